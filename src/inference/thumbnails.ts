/** Thumbnails for the audit trail: libvips (sharp) stays inside inference/, beside the other image code. */
import sharp from 'sharp';

/**
 * A small WebP of an image for the audit trail (at most 96 px on its longer side, transparency
 * over white), or null when it cannot be made: a thumbnail never fails a scoring request.
 */
export async function thumbnailOf(bytes: Uint8Array): Promise<Uint8Array | null> {
  try {
    // the image was embedded already, so it is within the pixel limits
    const webp = await sharp(bytes)
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize(96, 96, { fit: 'inside' })
      .webp({ quality: 70 })
      .toBuffer();
    return new Uint8Array(webp);
  } catch {
    return null;
  }
}
