/**
 * Signed tree heads (checkpoints) of the history log: the tree size, its root, when it was signed
 * and the hash of the checkpoint before it, as a short text note signed with Ed25519 (node:crypto).
 * The note's text is what is signed, so a verifier needs nothing but the note, the signature and
 * the public key. A key is named by its fingerprint, SHA-256 of its 32 raw bytes; a checkpoint
 * names the key that signed it, so rotated keys keep their checkpoints verifiable.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';

export const CHECKPOINT_ORIGIN = 'neglabel history log v1';

export interface Checkpoint {
  treeSize: number;
  rootHash: Buffer;
  signedAt: Date;
  /** the chain hash of the checkpoint before (checkpointHash), or null for the first */
  previousHash: Buffer | null;
}

export interface SignedCheckpoint extends Checkpoint {
  keyId: string;
  signature: Buffer;
}

/** The text a checkpoint's signature covers. */
export function checkpointNote(c: Checkpoint): string {
  return [
    CHECKPOINT_ORIGIN,
    String(c.treeSize),
    c.rootHash.toString('base64'),
    c.signedAt.toISOString(),
    c.previousHash ? c.previousHash.toString('hex') : '-',
    '',
  ].join('\n');
}

/** What the next checkpoint names as its previous one: SHA-256 of this one's note and signature. */
export function checkpointHash(c: SignedCheckpoint): Buffer {
  return createHash('sha256').update(checkpointNote(c)).update(c.signature).digest();
}

/** A public key's fingerprint, SHA-256 of its raw 32 bytes in hex: the key id checkpoints name. */
export function keyIdOf(publicKey: KeyObject): string {
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return createHash('sha256').update(raw).digest('hex');
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  keyId: string;
}

/** A signing key from its PKCS#8 PEM text; refuses anything but Ed25519. */
export function signingKeyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`the history signing key is ${privateKey.asymmetricKeyType}: it must be an Ed25519 key`);
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }) as string,
    keyId: keyIdOf(publicKey),
  };
}

/** A new Ed25519 key as PKCS#8 PEM text. */
export function newSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/** Public keys by key id, from their SPKI PEM texts. */
export function trustedKeys(pems: readonly string[]): Map<string, KeyObject> {
  return new Map(
    pems.map((pem) => {
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType !== 'ed25519') throw new Error('a history public key must be an Ed25519 key');
      return [keyIdOf(key), key];
    }),
  );
}

export function signCheckpoint(c: Checkpoint, key: SigningKey): SignedCheckpoint {
  return { ...c, keyId: key.keyId, signature: sign(null, Buffer.from(checkpointNote(c)), key.privateKey) };
}

/** Whether a trusted key of the id it names signed this checkpoint. */
export function verifyCheckpoint(c: SignedCheckpoint, keys: ReadonlyMap<string, KeyObject>): boolean {
  const key = keys.get(c.keyId);
  return key !== undefined && verify(null, Buffer.from(checkpointNote(c)), key, c.signature);
}
