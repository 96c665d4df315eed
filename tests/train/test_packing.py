"""Packing changes the batch layout, never the loss: attention must not cross examples."""

import pytest
import torch
from transformers import AutoTokenizer

from ftcore import load_split
from fttrain.config import TrainConfig
from fttrain.data import tokenize_examples
from fttrain.run import collator, load_model


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_and_padded_batches_give_the_same_loss(tiny_model_dir, export_dir, attention):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = load_model(TrainConfig(base_model=str(tiny_model_dir), method="full")).eval()  # as fttrain sets it up
    model.config._attn_implementation = attention
    items = tokenize_examples(load_split(export_dir, "train")[:6], tokenizer, max_seq_len=256).as_records()
    padded = collator(TrainConfig(packing=False), tokenizer)(items)
    packed = collator(TrainConfig(packing=True), tokenizer)(items)
    assert packed["input_ids"].shape[0] == 1 and (padded["attention_mask"] == 0).any()  # really two layouts
    with torch.no_grad():
        loss_padded = model(**padded).loss
        loss_packed = model(**packed).loss
    assert loss_packed.item() == pytest.approx(loss_padded.item(), rel=1e-5)
