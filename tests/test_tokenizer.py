"""Tokenizer loading from a path, special tokens added when missing, offline BPE training and the
`interleaf tokenizer` command."""

from __future__ import annotations

import json

from loader_fixtures import write_shards
from tokenizers import Tokenizer, models, pre_tokenizers

from interleaf.cli import main
from interleaf.loaders import ENDOFCHUNK_TOKEN, IMAGE_TOKEN, load_tokenizer


def word_level(tmp_path, vocab: dict[str, int], specials: list[str] = ()) -> str:
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(list(specials))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return str(path)


def test_missing_special_tokens_are_added(tmp_path):
    path = word_level(tmp_path, {"[UNK]": 0, "hello": 1, "world": 2})
    tok = load_tokenizer(path)
    ids = tok.special_ids
    assert len(set(ids.values())) == 4 and ids["bos"] == ids["eos"]  # GPT-2 style: BOS = EOS
    assert min(ids.values()) >= 3 and tok.vocab_size == 7
    assert tok.encode(f"hello {IMAGE_TOKEN} world {ENDOFCHUNK_TOKEN}") == [1, tok.image_id, 2, tok.eoc_id]


def test_existing_special_tokens_are_reused(tmp_path):
    vocab = {"[UNK]": 0, "<s>": 1, "</s>": 2, "<pad>": 3, "hi": 4}
    tok = load_tokenizer(word_level(tmp_path, vocab, ["<s>", "</s>", "<pad>"]))
    assert (tok.bos_id, tok.eos_id, tok.pad_id) == (1, 2, 3) and tok.vocab_size == 7


def test_cli_trains_a_byte_level_bpe_on_shards(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    write_shards(tmp_path / "s", n_shards=2, docs_per_shard=20, seed=2)
    out = tmp_path / "tok.json"
    assert main(["tokenizer", "train", str(tmp_path / "s"), "-o", str(out), "--vocab-size", "300"]) == 0
    tok = load_tokenizer(out)
    assert 260 < tok.vocab_size <= 300
    assert len(tok.encode("flamingo")) < len("flamingo")  # merges learned from the shard text
    text = "naïve café, 東京 🦩 <not special>"
    assert tok.decode(tok.encode(text)) == text  # byte-level: any text round-trips
    capsys.readouterr()
    assert main(["tokenizer", "show", str(out)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["image"] == tok.image_id and shown["vocab_size"] == tok.vocab_size
