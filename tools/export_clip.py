"""Export a Hugging Face CLIP checkpoint to the model-folder layout this service loads.

Needs network access for the weights (run it where you have it, then copy the folder):
  pip install torch transformers onnx
  python3 tools/export_clip.py openai/clip-vit-base-patch16 models/clip-vit-b16
Writes text_model.onnx (input_ids, attention_mask -> text_embeds), vision_model.onnx
(pixel_values -> image_embeds), tokenizer.json, preprocessor_config.json, config.json.
config.json carries `logit_scale`: the exp of the checkpoint's trained `logit_scale` weight (100 for
OpenAI CLIP), which the service scores at. `logit_scale_init_value` in Hugging Face configs is the
value training started from, never the trained scale, so it is not used.
"""
import json
import os
import sys

import torch
from transformers import AutoProcessor, CLIPModel, CLIPTextModelWithProjection, CLIPVisionModelWithProjection

name, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
processor = AutoProcessor.from_pretrained(name)
processor.tokenizer.save_pretrained(out)  # tokenizer.json (fast tokenizer)
processor.image_processor.save_pretrained(out)  # preprocessor_config.json


class Text(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = CLIPTextModelWithProjection.from_pretrained(name).eval()

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).text_embeds


class Vision(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = CLIPVisionModelWithProjection.from_pretrained(name).eval()

    def forward(self, pixel_values):
        return self.model(pixel_values=pixel_values).image_embeds


text = Text()
text.model.config.save_pretrained(out)
ids = processor.tokenizer(['a photo of a dog', 'a'], padding=True, return_tensors='pt')
torch.onnx.export(text, (ids['input_ids'], ids['attention_mask']), os.path.join(out, 'text_model.onnx'),
                  input_names=['input_ids', 'attention_mask'], output_names=['text_embeds'], opset_version=17, dynamo=False,
                  dynamic_axes={'input_ids': {0: 'batch', 1: 'sequence'}, 'attention_mask': {0: 'batch', 1: 'sequence'}, 'text_embeds': {0: 'batch'}})
size = processor.image_processor.crop_size['height']
torch.onnx.export(Vision(), (torch.zeros(1, 3, size, size),), os.path.join(out, 'vision_model.onnx'),
                  input_names=['pixel_values'], output_names=['image_embeds'], opset_version=17, dynamo=False,
                  dynamic_axes={'pixel_values': {0: 'batch'}, 'image_embeds': {0: 'batch'}})
with torch.no_grad():
    trained_scale = float(CLIPModel.from_pretrained(name).logit_scale.exp())
config_path = os.path.join(out, 'config.json')
with open(config_path) as f:
    config = json.load(f)
config['logit_scale'] = round(trained_scale, 4)
with open(config_path, 'w') as f:
    json.dump(config, f, indent=2)
print(f'exported {name} to {out} (trained logit scale {trained_scale:.4f})')
