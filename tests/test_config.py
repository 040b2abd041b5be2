import pytest
import yaml

from sam2_enhanced.config import (
    ModelConfig,
    available_configs,
    from_dict,
    load_config,
    to_dict,
)


@pytest.mark.parametrize("name", ["tiny", "small", "base"])
def test_presets_load_and_round_trip(name):
    cfg = load_config(name)
    assert cfg.name == name
    assert from_dict(ModelConfig, to_dict(cfg)) == cfg


def test_small_preset_has_vit_s14_geometry():
    cfg = load_config("small")
    assert (cfg.encoder.image_size, cfg.encoder.hidden_size, cfg.encoder.grid_size) == (
        518,
        384,
        37,
    )
    assert load_config("base").encoder.hidden_size == 768
    assert {"tiny", "small", "base"} <= set(available_configs())


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ({"encoder": {"hiden_size": 3}}, ValueError, "encoder.hiden_size"),
        ({"encoder": {"image_size": "112"}}, ValueError, "encoder.image_size"),
        ({"encoder": {"image_size": 100}}, ValueError, "multiple of encoder.patch_size"),
        ({"decoder": {"num_heads": 3}}, ValueError, "decoder.num_heads"),
        ({"heads": {"small_object_size": 0.0}}, ValueError, "heads.small_object_size"),
        ({"heads": {"small_object_size": -32.0}}, ValueError, "heads.small_object_size"),
        ({"heads": {"refine_steps": 0}}, ValueError, "heads.refine_steps"),
        ({"heads": {"nms_iou": 0.0}}, ValueError, "heads.nms_iou"),
        ({"heads": {"nms_iou": 1.2}}, ValueError, "heads.nms_iou"),
        ({"memory_bank": {"keyframe_policy": "best"}}, ValueError, "keyframe_policy"),
        ({"memory_encoder": {"mem_dim": 48}}, ValueError, "mem_dim"),
        ({"encoder": {"pixel_mean": [0.5, 0.5]}}, ValueError, "pixel_mean"),
        ({"encoder": 3}, ValueError, "expects a mapping"),
        ({"mask_decoder": {"previous_centre_prompt": 1}}, ValueError, "previous_centre_prompt"),
        ({"tracker": {"det_threshold": 0.3, "low_threshold": 0.3}}, ValueError, "low_threshold"),
        ({"tracker": {"low_threshold": -0.1}}, ValueError, "tracker.low_threshold"),
        ({"tracker": {"low_threshold": "0.1"}}, ValueError, "tracker.low_threshold"),
    ],
)
def test_bad_config_values_name_the_key(data, error, match):
    with pytest.raises(error, match=match):
        from_dict(ModelConfig, data)


def test_yaml_file_and_model_section(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"model": {"decoder": {"num_queries": 7}}, "train": {}}))
    cfg = load_config(path)
    assert cfg.decoder.num_queries == 7 and cfg.name == "mine"


def test_missing_config_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="available"):
        load_config("nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
