import pytest

from interleaf.pipeline.config import RunConfig
from interleaf.schemas.config import ConfigError


def test_yaml_sets_any_stage(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "images: {max_side: 512, format: webp}\n"
        "download: {per_host: 2, allow_networks: ['127.0.0.0/8']}\n"
        "filters: {languages: [en, de], document: {min_images: 0}}\n"
        "dedupe: {jaccard_threshold: 0.9}\n"
        "shards: {docs_per_shard: 50}\n"
        "download_images: true\n"
        "dropped_sample_rate: 1\n"
    )
    c = RunConfig.from_yaml(str(path))
    assert c.images.max_side == 512 and c.images.format == "webp"
    assert c.download.per_host == 2 and c.download.allow_networks == ("127.0.0.0/8",)
    assert c.filters.languages == ["en", "de"] and c.filters.document.min_images == 0
    assert c.dedupe.jaccard_threshold == 0.9 and c.shards.docs_per_shard == 50
    assert c.download_images is True and c.dropped_sample_rate == 1.0
    assert c.extract.max_html_bytes == RunConfig().extract.max_html_bytes  # untouched sections keep defaults


@pytest.mark.parametrize(
    "text, message",
    [
        ("images: {max_sid: 512}", r"config.images: unknown option\(s\) \['max_sid'\]"),
        ("download_images: 'yes'", "config.download_images: expected bool"),
        ("shards: {docs_per_shard: true}", "config.shards.docs_per_shard: expected int"),
        ("filters: [en]", "config.filters: expected a mapping"),
    ],
)
def test_bad_yaml_names_the_key(tmp_path, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_yaml(str(path))
