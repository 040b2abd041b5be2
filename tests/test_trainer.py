"""Training config, schedule, the trainer (steps, checkpoint/resume, DDP) and validation."""

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from sam2_layout import HIERA_KEYS, OfficialSam2Parts

from sam2_enhanced import build_model, load_config
from sam2_enhanced.data.clip_dataset import ClipSample
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.training.config import TrainConfig, load_train_config, run_config_from_dict
from sam2_enhanced.training.trainer import (
    Trainer,
    append_csv_row,
    freeze_all_but,
    warmup_cosine,
)
from sam2_enhanced.training.validate import baseline_ious, validate
from sam2_enhanced.weights.checkpoint import save_pretrained

REPO = Path(__file__).resolve().parents[1]
TINY_DATA = ["data.height=48", "data.width=48", "data.max_object_size=16"]


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 0.25), (3, 1.0), (4, 1.0), (8, 0.1 + 0.9 * 0.5), (12, 0.1), (20, 0.1)],
)
def test_warmup_cosine(step, expected):
    factor = warmup_cosine(step, warmup_steps=4, total_steps=12, min_ratio=0.1)
    assert factor == pytest.approx(expected)


def test_load_train_config_with_typed_overrides():
    run = load_train_config(
        "train_tiny",
        [
            "train.lr=3e-4",
            "model.decoder.num_layers=3",
            "data.height=32",
            "data.motion_weights=[1, 0, 0, 0, 0]",
        ],
    )
    assert run.train.lr == 3e-4 and run.model.decoder.num_layers == 3
    assert run.model.name == "tiny" and run.model.encoder.hidden_size == 48
    assert run.data.height == 32 and run.data.motion_weights == (1.0, 0.0, 0.0, 0.0, 0.0)
    again = run_config_from_dict(run.to_dict())
    assert again == run


def test_inline_model_section():
    run = run_config_from_dict({"model": {"name": "mine", "decoder": {"num_queries": 7}}})
    assert run.model.name == "mine" and run.model.decoder.num_queries == 7


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["train.lr=fast"], "train.lr"),
        (["train.bogus=1"], "bogus"),
        (["model.decoder.layers=3"], "layers"),
        (["lr=1e-4"], "SECTION.KEY=VALUE"),
        (["optim.lr=1e-4"], "SECTION.KEY=VALUE"),
        (["train.lr.value=1"], "not a mapping"),
        (["train.prob_box_prompt=0.9", "train.prob_mask_prompt=0.5"], "<= 1"),
        (["train.amp=fp8"], "train.amp"),
        (["train.prob_drop_previous=1.5"], r"train.prob_drop_previous must be in \[0, 1\]"),
        (["data.height=8"], "height"),
        (["train.proposal_assignment=ota"], "train.proposal_assignment must be one of"),
        (["train.proposal_radius=-1"], "train.proposal_radius must be >= 0"),
    ],
)
def test_bad_overrides_raise_value_error(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_train_config("train_tiny", overrides)


def test_unknown_section_and_missing_file():
    with pytest.raises(ValueError, match="unknown config section"):
        run_config_from_dict({"optimizer": {}})
    with pytest.raises(ValueError, match="preset name or a mapping"):
        run_config_from_dict({"model": 3})
    with pytest.raises(FileNotFoundError):
        load_train_config("no_such_training_preset")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("steps", 0),
        ("prob_corrective", 1.5),
        ("lr", 0.0),
        ("prompt_pe_scale", 0.0),
        ("mask_focal_alpha", 1.2),
        ("focal_alpha", -0.5),
    ],
)
def test_train_config_checks_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def tiny_trainer(tmp_path, *extra, resume=None):
    overrides = [f"train.output_dir={tmp_path}", "train.steps=3", *TINY_DATA, *extra]
    return Trainer(load_train_config("train_tiny", overrides), resume=resume)


def test_train_writes_logs_checkpoint_and_model(tmp_path):
    summary = tiny_trainer(tmp_path, "train.num_val_videos=0").train()
    assert summary.steps == 3 and math.isfinite(summary.final_loss) and summary.rank == 0
    rows = list(csv.DictReader((tmp_path / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert float(rows[0]["lr"]) == pytest.approx(0.5e-4)  # warmup 2 steps to 1e-4
    assert (tmp_path / "checkpoint.pt").is_file()
    assert {p.name for p in (tmp_path / "model").iterdir()} == {"config.yaml", "model.safetensors"}


def test_prompt_pe_scale_multiplies_the_prompt_frequencies(tmp_path):
    trainer = tiny_trainer(tmp_path, "train.prompt_pe_scale=4.0")
    torch.manual_seed(0)
    reference = build_model(load_config("tiny"))
    name = "mask_head.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"
    scaled = trainer.model.state_dict()[name]
    torch.testing.assert_close(scaled, 4.0 * reference.state_dict()[name])


def test_resume_gives_the_same_next_loss(tmp_path):
    first = tiny_trainer(tmp_path)
    batches = first.batches()
    for _ in range(2):
        first.train_step(next(batches))
    first.output_dir.mkdir(parents=True, exist_ok=True)
    first.save_checkpoint()
    expected = first.train_step(next(batches))["loss"]
    resumed = tiny_trainer(tmp_path, resume=tmp_path)
    assert resumed.step == 2
    assert resumed.train_step(next(resumed.batches()))["loss"] == pytest.approx(expected, rel=1e-6)


def test_resume_from_missing_checkpoint_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training checkpoint"):
        tiny_trainer(tmp_path, resume=tmp_path / "nothing")


def test_validate_reports_scores_in_range():
    torch.manual_seed(0)
    model = build_model(load_config("tiny"))
    cfg = SyntheticVideoConfig(height=48, width=48, num_frames=2, max_objects=2, max_object_size=16)
    result = validate(model, cfg, num_videos=1)
    assert 0.0 <= result.mean_mask_iou <= 1.0
    # one prompted pair per object, the rest tracked: the overall mean is their weighted mean
    num_prompted = result.num_objects
    num_tracked = result.num_object_frames - num_prompted
    tracked = result.mean_mask_iou_tracked if num_tracked else 0.0
    weighted = num_prompted * result.mean_mask_iou_prompted + num_tracked * tracked
    assert result.mean_mask_iou == pytest.approx(weighted / result.num_object_frames)
    assert result.num_videos == 1 and result.num_objects >= 1
    assert result.num_objects <= result.num_object_frames <= 2 * result.num_objects
    assert math.isnan(result.detection_ap50) or 0.0 <= result.detection_ap50 <= 1.0
    assert math.isnan(result.detection_ap50_tiny) or 0.0 <= result.detection_ap50_tiny <= 1.0
    for baseline in ("empty", "static"):
        for part in ("", "_prompted"):
            assert 0.0 <= getattr(result, f"{baseline}_mask_iou{part}") <= 1.0
    assert model.training  # restored after validation
    with pytest.raises(ValueError, match="num_videos"):
        validate(model, cfg, num_videos=0)


def test_validation_baselines_by_hand():
    """Object 0: a 2x2 square on frame 0 that moves 1 px right on frame 1. Object 1: absent on
    frame 0, a 1x3 bar on frame 1 (its prompt frame)."""
    masks = torch.zeros(2, 2, 8, 8)  # (T, O, H, W)
    masks[0, 0, 2:4, 2:4] = 1
    masks[1, 0, 2:4, 3:5] = 1
    masks[1, 1, 6, 0:3] = 1
    boxes = torch.tensor([[[2.0, 2, 4, 4], [0, 0, 0, 0]], [[3, 2, 5, 4], [0, 6, 3, 7]]])
    sample = ClipSample(
        frames=torch.zeros(2, 3, 8, 8),
        boxes_xyxy=boxes,
        masks=masks,
        visibility=masks.flatten(2).amax(2),
        class_ids=torch.zeros(2, dtype=torch.int64),
        track_ids=torch.tensor([1, 2]),
        seed=0,
    )
    empty, static = baseline_ious(sample)
    # pairs: (frame 0, object 0), (frame 1, object 0), (frame 1, object 1)
    assert empty == [0.0, 0.0, 0.0]
    assert static == pytest.approx([1.0, 2 / 6, 1.0])  # the frame-0 box overlaps 2 of 6 pixels


@pytest.mark.slow
def test_torchrun_two_ranks_on_cpu(tmp_path):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(REPO / "scripts" / "train.py"), "--config", "train_tiny", "--output-dir", str(tmp_path),
        "--set", "train.steps=2", "--set", "train.num_val_videos=0", "--set", "train.num_threads=1",
        *[arg for item in TINY_DATA for arg in ("--set", item)],
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 0 done: 2 steps" in done.stderr and "rank 1 done: 2 steps" in done.stderr
    rows = list(csv.DictReader((tmp_path / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2]  # one writer: rank 0
    assert (tmp_path / "checkpoint.pt").is_file() and (tmp_path / "model").is_dir()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2


def test_init_from_starts_the_run_from_a_saved_model(tmp_path):
    torch.manual_seed(123)  # weights unlike the trainer's own seed-0 init
    saved = build_model(load_config("tiny"))
    save_pretrained(saved, tmp_path / "saved")
    trainer = tiny_trainer(tmp_path / "run", f"train.init_from={tmp_path / 'saved'}")
    for name, value in saved.state_dict().items():
        torch.testing.assert_close(trainer.model.state_dict()[name], value, msg=name)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda d: d / "nothing", FileNotFoundError, "not a Hugging Face Hub repo id"),
        (lambda d: d, FileNotFoundError, "not a sam2-enhanced checkpoint folder"),
    ],
)
def test_init_from_a_missing_checkpoint_raises(tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        tiny_trainer(tmp_path / "run", f"train.init_from={make(tmp_path)}")


def test_init_from_another_architecture_lists_the_keys(tmp_path):
    other = load_config("tiny")
    other.decoder.num_layers = 3
    save_pretrained(build_model(other), tmp_path / "other")
    with pytest.raises(ValueError, match="does not match its config.*detr_decoder.layers.2"):
        tiny_trainer(tmp_path / "run", f"train.init_from={tmp_path / 'other'}")


def test_init_from_not_strict_loads_what_agrees_and_lists_the_rest(tmp_path, caplog):
    torch.manual_seed(123)
    other = load_config("tiny")
    other.decoder.dim_feedforward = 48  # every decoder MLP changes shape
    saved = build_model(other)
    save_pretrained(saved, tmp_path / "other")
    fresh = tiny_trainer(tmp_path / "fresh").model.state_dict()
    with caplog.at_level("WARNING"):
        trainer = tiny_trainer(
            tmp_path / "run",
            f"train.init_from={tmp_path / 'other'}",
            "train.init_from_strict=false",
        )
    state, loaded = trainer.model.state_dict(), saved.state_dict()
    torch.testing.assert_close(state["mask_head.obj_ptr_proj.layers.0.weight"],
                               loaded["mask_head.obj_ptr_proj.layers.0.weight"])  # fmt: skip
    mlp = "detr_decoder.layers.0.mlp.0.weight"  # shape differs: keeps the run's own init
    torch.testing.assert_close(state[mlp], fresh[mlp])
    assert "keep their initialization" in caplog.text and mlp in caplog.text


def test_init_from_not_strict_refuses_an_unrelated_checkpoint(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.yaml").write_text("name: x\n")
    save_file({"something.else": torch.zeros(2)}, str(tmp_path / "other" / "model.safetensors"))
    with pytest.raises(ValueError, match="shares no tensor"):
        tiny_trainer(
            tmp_path / "run",
            f"train.init_from={tmp_path / 'other'}",
            "train.init_from_strict=false",
        )


def test_sam2_checkpoint_starts_the_sam_parts(tmp_path):
    official = OfficialSam2Parts()
    path = tmp_path / "sam2.1_hiera_tiny_test.pt"
    torch.save({"model": {**official.state_dict(), **HIERA_KEYS}}, path)
    trainer = tiny_trainer(tmp_path / "run", f"train.sam2_checkpoint={path}")
    ours = trainer.model.mask_head.mask_decoder.state_dict()
    for name, value in official.sam_mask_decoder.state_dict().items():
        torch.testing.assert_close(ours[name], value, msg=name)
    torch.manual_seed(0)
    fresh = build_model(load_config("tiny")).detr_decoder.state_dict()
    for name, value in trainer.model.detr_decoder.state_dict().items():
        torch.testing.assert_close(value, fresh[name], msg=name)  # new parts keep their init


def test_csv_log_of_an_older_run_gets_the_new_columns(tmp_path):
    path = tmp_path / "train_log.csv"
    append_csv_row(path, {"step": 10, "loss": 2.0})
    append_csv_row(path, {"step": 20, "loss": 1.5, "det_dn_l1": 0.3})  # resumed, new column
    append_csv_row(path, {"step": 30, "loss": 1.0, "det_dn_l1": 0.2})
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["step"] for r in rows] == ["10", "20", "30"]
    assert [r["det_dn_l1"] for r in rows] == ["", "0.3", "0.2"]
    assert [r["loss"] for r in rows] == ["2.0", "1.5", "1.0"]


def test_freeze_all_but_trains_only_the_named_parts():
    torch.manual_seed(0)
    model = build_model(load_config("tiny"))
    freeze_all_but(model, ("detr_decoder", "detection_head"))
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"detr_decoder", "detection_head"}
    everything = build_model(load_config("tiny"))
    before = [p.requires_grad for p in everything.parameters()]
    freeze_all_but(everything, ())  # empty: nothing changes
    assert [p.requires_grad for p in everything.parameters()] == before


def test_freeze_all_but_refuses_unknown_parts():
    with pytest.raises(ValueError, match=r"unknown model parts \['decoder'\]"):
        freeze_all_but(build_model(load_config("tiny")), ("decoder",))


def test_fast_parts_train_at_the_scaled_rate(tmp_path):
    trainer = tiny_trainer(
        tmp_path,
        "train.trainable=[detr_decoder,detection_head]",
        "train.fast_parts=[detection_head]",
        "train.fast_lr_scale=5.0",
    )
    rate = {
        id(p): group["initial_lr"]
        for group in trainer.optimizer.param_groups
        for p in group["params"]
    }
    lr = trainer.cfg.lr
    for name, param in trainer.model.named_parameters():
        part = name.split(".")[0]
        if part == "detection_head":
            assert rate[id(param)] == pytest.approx(5.0 * lr), name
        elif part == "detr_decoder" and param.requires_grad:
            assert rate[id(param)] == pytest.approx(lr), name
        else:
            assert id(param) not in rate or not param.requires_grad, name


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        (["train.fast_lr_scale=0.0"], "fast_lr_scale must be > 0"),
        (
            ["train.trainable=[detr_decoder]", "train.fast_parts=[detection_head]"],
            "must be among train.trainable",
        ),
        (["train.fast_parts=[motion]"], r"fast_parts names unknown model parts \['motion'\]"),
    ],
)
def test_bad_fast_parts_are_refused(tmp_path, overrides, error):
    with pytest.raises(ValueError, match=error):
        tiny_trainer(tmp_path, *overrides)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(window_frame_sides=()), "window_frame_sides must be >= 16"),
        (dict(window_frame_sides=(8, 320)), "window_frame_sides must be >= 16"),
    ],
)
def test_window_frame_sides_are_checked(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields)
