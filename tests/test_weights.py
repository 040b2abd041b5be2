"""Real-weight converters on tiny checkpoints written in the real layouts.

DINOv2: a tiny ``transformers.Dinov2Model`` saved with ``save_pretrained`` (which writes the Hub
layout, ``attention.attention.query``), its in-memory ``state_dict`` (the installed layout) and the
original torch.hub layout (``blocks.N.attn.qkv``). SAM 2: the official ``sam2`` modules at width 32
under the official ``SAM2Base`` key prefixes, saved as ``{"model": sd}``. Parity with real
downloaded checkpoints is marked ``real_weights`` and skipped unless their paths are given.
"""

import dataclasses
import json
import os

import huggingface_hub.constants
import pytest
import torch
from hydra import compose
from hydra.utils import instantiate
from safetensors.torch import load_file
from sam2_layout import HIERA_KEYS, OfficialSam2Parts
from transformers import Dinov2Config, Dinov2Model

from sam2_enhanced import build_model, load_config
from sam2_enhanced.modeling.dinov2_weights import (
    convert_dinov2_state_dict,
    load_pretrained_dinov2,
    resize_position_embeddings,
)
from sam2_enhanced.weights.components import from_components
from sam2_enhanced.weights.sam2 import (
    SAM2_SLOT_OF_TIME_BUCKET,
    convert_sam2_state_dict,
    read_sam2_checkpoint,
)

D, MEM, G, S = 32, 16, 8, 112  # tiny config: d_model, mem_dim, token grid, image size


# ---------------------------------------------------------------- DINOv2 checkpoints


def tiny_vit(*, hidden=32, heads=2, image_size=56, swiglu=False, seed=0) -> Dinov2Model:
    """A DINOv2 ViT with every parameter random (so any mis-mapped key changes the output)."""
    torch.manual_seed(seed)
    config = Dinov2Config(
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=heads,
        image_size=image_size,
        patch_size=14,
        use_swiglu_ffn=swiglu,
    )
    vit = Dinov2Model(config).eval()
    with torch.no_grad():
        for param in vit.parameters():
            param.normal_(0.0, 0.3)
    return vit


def shapes(vit):
    return {k: v.shape for k, v in vit.state_dict().items()}


def run_vit(vit, size, seed=1):
    torch.manual_seed(seed)
    with torch.no_grad():
        return vit(pixel_values=torch.randn(2, 3, size, size)).last_hidden_state


def to_torch_hub_layout(vit: Dinov2Model) -> dict:
    """The original facebookresearch/dinov2 keys, written out by hand from the module roles."""
    sd = vit.state_dict()
    out = {
        "cls_token": sd["embeddings.cls_token"],
        "mask_token": sd["embeddings.mask_token"],
        "pos_embed": sd["embeddings.position_embeddings"],
        "patch_embed.proj.weight": sd["embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": sd["embeddings.patch_embeddings.projection.bias"],
        "norm.weight": sd["layernorm.weight"],
        "norm.bias": sd["layernorm.bias"],
    }
    for i in range(vit.config.num_hidden_layers):
        ours, theirs = f"encoder.layer.{i}.", f"blocks.{i}."
        for kind in ("weight", "bias"):
            out[f"{theirs}norm1.{kind}"] = sd[f"{ours}norm1.{kind}"]
            out[f"{theirs}norm2.{kind}"] = sd[f"{ours}norm2.{kind}"]
            qkv = [sd[f"{ours}attention.{p}_proj.{kind}"] for p in "qkv"]
            out[f"{theirs}attn.qkv.{kind}"] = torch.cat(qkv)
            out[f"{theirs}attn.proj.{kind}"] = sd[f"{ours}attention.o_proj.{kind}"]
            if vit.config.use_swiglu_ffn:
                gate_up = [sd[f"{ours}mlp.gate_proj.{kind}"], sd[f"{ours}mlp.up_proj.{kind}"]]
                out[f"{theirs}mlp.w12.{kind}"] = torch.cat(gate_up)
                out[f"{theirs}mlp.w3.{kind}"] = sd[f"{ours}mlp.down_proj.{kind}"]
            else:
                out[f"{theirs}mlp.fc1.{kind}"] = sd[f"{ours}mlp.fc1.{kind}"]
                out[f"{theirs}mlp.fc2.{kind}"] = sd[f"{ours}mlp.fc2.{kind}"]
        out[f"{theirs}ls1.gamma"] = sd[f"{ours}layer_scale1.lambda1"]
        out[f"{theirs}ls2.gamma"] = sd[f"{ours}layer_scale2.lambda1"]
    return out


def hub_layout(vit, tmp_path) -> dict:
    """What ``save_pretrained`` writes (the layout of the facebook/dinov2-* Hub files)."""
    vit.save_pretrained(tmp_path / "hub")
    return load_file(str(tmp_path / "hub" / "model.safetensors"))


def test_save_pretrained_writes_the_hub_layout_and_loads_exactly(tmp_path):
    source = tiny_vit()
    source.save_pretrained(tmp_path)
    written = load_file(str(tmp_path / "model.safetensors"))
    assert "encoder.layer.0.attention.attention.query.weight" in written  # Hub layout on disk
    assert "encoder.layer.0.attention.q_proj.weight" in source.state_dict()  # installed layout
    loaded = load_pretrained_dinov2(tmp_path, image_size=56)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert torch.equal(run_vit(loaded, 56), run_vit(source, 56))
    assert all(p.requires_grad for p in loaded.parameters())


@pytest.mark.parametrize("swiglu", [False, True])
@pytest.mark.parametrize("layout", ["hub", "transformers", "torch_hub"])
def test_every_layout_converts_strictly_to_identical_outputs(layout, swiglu, tmp_path):
    source = tiny_vit(swiglu=swiglu)
    sd = {
        "hub": lambda: hub_layout(source, tmp_path),
        "transformers": source.state_dict,
        "torch_hub": lambda: to_torch_hub_layout(source),
    }[layout]()
    target = tiny_vit(swiglu=swiglu, seed=5)
    target.load_state_dict(convert_dinov2_state_dict(sd, target_keys=shapes(target)), strict=True)
    assert torch.equal(run_vit(target, 56), run_vit(source, 56))


def test_build_model_loads_encoder_pretrained(tiny_cfg, tmp_path):
    dino = tiny_vit(hidden=48, heads=2, image_size=56)
    dino.save_pretrained(tmp_path)
    cfg = dataclasses.replace(
        tiny_cfg, encoder=dataclasses.replace(tiny_cfg.encoder, pretrained=str(tmp_path))
    )
    model = build_model(cfg)
    assert torch.equal(run_vit(model.encoder.vit, S), run_vit(dino, S))
    assert not model.encoder.vit.embeddings.mask_token.requires_grad  # set by the encoder


def test_build_model_rejects_encoder_pretrained_of_another_geometry(tiny_cfg, tmp_path):
    tiny_vit(hidden=32, heads=2, image_size=56).save_pretrained(tmp_path)  # config says 48
    cfg = dataclasses.replace(
        tiny_cfg, encoder=dataclasses.replace(tiny_cfg.encoder, pretrained=str(tmp_path))
    )
    with pytest.raises(ValueError, match="cls_token"):
        build_model(cfg)


@pytest.mark.parametrize("image_size", [42, 84])
def test_position_embeddings_resized_as_transformers_does_at_run_time(image_size, tmp_path):
    source = tiny_vit(image_size=56)  # 4 x 4 grid
    source.save_pretrained(tmp_path)
    loaded = load_pretrained_dinov2(tmp_path, image_size=image_size)
    grid = image_size // 14
    assert loaded.embeddings.position_embeddings.shape == (1, 1 + grid * grid, 32)
    assert loaded.config.image_size == image_size
    # the source model interpolates its 4 x 4 grid itself when fed image_size pixels
    assert torch.equal(run_vit(loaded, image_size), run_vit(source, image_size))


def test_resize_position_embeddings_keeps_class_row_and_constants():
    pos = torch.cat([torch.full((1, 1, 3), 7.0), torch.full((1, 16, 3), 2.5)], dim=1)
    resized = resize_position_embeddings(pos, 6)  # (1, 1 + 36, 3)
    assert resized.shape == (1, 37, 3)
    assert torch.equal(resized[:, 0], pos[:, 0])
    torch.testing.assert_close(resized[:, 1:], torch.full((1, 36, 3), 2.5))
    assert resize_position_embeddings(pos, 4) is pos


def test_torch_hub_file_geometry_is_read_off_the_tensors(tmp_path):
    source = tiny_vit(hidden=64, heads=1)  # DINOv2's 64 channels per head
    torch.save(to_torch_hub_layout(source), tmp_path / "dinov2_tiny_pretrain.pth")
    loaded = load_pretrained_dinov2(tmp_path / "dinov2_tiny_pretrain.pth", image_size=56)
    assert (loaded.config.hidden_size, loaded.config.num_attention_heads) == (64, 1)
    assert loaded.config.num_hidden_layers == 2 and loaded.config.mlp_ratio == 4
    assert torch.equal(run_vit(loaded, 56), run_vit(source, 56))


@pytest.mark.parametrize(
    "edit, message",
    [
        ("wider", r"shape mismatches .*embeddings\.cls_token: checkpoint \(1, 1, 48\)"),
        ("drop", r"1 missing keys \['layernorm\.weight'\]"),
        ("extra", r"1 unexpected keys \['encoder\.layer\.9\.norm1\.weight'\]"),
        ("non_square", r"square G x G grid"),
    ],
)
def test_dinov2_mismatches_raise_listing_keys(edit, message):
    target = tiny_vit()
    sd = dict((tiny_vit(hidden=48) if edit == "wider" else target).state_dict())
    if edit == "drop":
        del sd["layernorm.weight"]
    if edit == "extra":
        sd["encoder.layer.9.norm1.weight"] = torch.ones(32)
    if edit == "non_square":
        sd["embeddings.position_embeddings"] = torch.zeros(1, 1 + 12, 32)
    with pytest.raises(ValueError, match=message):
        convert_dinov2_state_dict(sd, target_keys=shapes(target))


def write_bad_dinov2(kind, tmp_path):
    """A path that is not a usable DINOv2 checkpoint, of the given kind."""
    folder = tmp_path / "dino"
    folder.mkdir()
    config = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2).to_dict()
    if kind in ("no_weights", "garbage_weights", "wrong_model_type"):
        config["model_type"] = "vit" if kind == "wrong_model_type" else "dinov2"
        (folder / "config.json").write_text(json.dumps(config))
    if kind == "garbage_weights":
        (folder / "model.safetensors").write_text("not safetensors")
    if kind == "text_file":
        (folder / "weights.pth").write_text("hello")
        return folder / "weights.pth"
    if kind == "not_torch_hub":
        torch.save(tiny_vit().state_dict(), folder / "weights.pth")
        return folder / "weights.pth"
    return folder


@pytest.mark.parametrize(
    "kind, error, message",
    [
        ("no_config", FileNotFoundError, "no config.json"),
        ("no_weights", FileNotFoundError, "model.safetensors"),
        ("garbage_weights", ValueError, "not a readable weight file"),
        ("wrong_model_type", ValueError, "model_type 'vit'"),
        ("text_file", ValueError, "not a readable weight file"),
        ("not_torch_hub", ValueError, "not in the torch.hub DINOv2 layout"),
    ],
)
def test_bad_dinov2_checkpoints_raise(kind, error, message, tmp_path):
    with pytest.raises(error, match=message):
        load_pretrained_dinov2(write_bad_dinov2(kind, tmp_path), image_size=56)


def test_dinov2_image_size_must_be_a_patch_multiple(tmp_path):
    tiny_vit().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="multiple of the DINOv2 patch size"):
        load_pretrained_dinov2(tmp_path, image_size=60)


@pytest.mark.parametrize("name", ["no-such-folder", "sam2-enhanced-tests/no-such-dinov2"])
def test_missing_path_or_offline_hub_id_raises_file_not_found(name, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(FileNotFoundError, match="no-such"):
        load_pretrained_dinov2(name, image_size=56)


# ---------------------------------------------------------------- SAM 2 checkpoints


@pytest.fixture(scope="module")
def official():
    return OfficialSam2Parts()


@pytest.fixture()
def sam2_file(official, tmp_path):
    path = tmp_path / "sam2.1_hiera_tiny_test.pt"
    torch.save({"model": {**official.state_dict(), **HIERA_KEYS}}, path)
    return path


def test_sam2_report_accounts_for_every_key(official, sam2_file, tiny_cfg):
    sd = read_sam2_checkpoint(sam2_file)
    converted, report = convert_sam2_state_dict(sd, tiny_cfg)
    loaded = [source for source, _ in report.loaded]
    skipped = [item.source for item in report.skipped_shape]
    assert sorted(loaded + skipped + report.unused) == sorted(sd)  # each key exactly once
    assert set(HIERA_KEYS) <= set(report.unused)
    assert {"no_mem_pos_enc", "mask_downsample.weight"} <= set(report.unused)
    # our mask downsampler has 2 of SAM 2's 4 conv layers: layer 0-4 load, the 1x1 output differs
    assert "memory_encoder.mask_downsampler.encoder.3.weight" in loaded
    assert skipped == [
        "memory_encoder.mask_downsampler.encoder.6.weight",
        "memory_encoder.mask_downsampler.encoder.6.bias",
    ]
    assert "memory_encoder.mask_downsampler.encoder.12.weight" in report.unused
    assert sorted(report.not_loaded) == [
        "memory_encoder.mask_memory.mask_downsampler.encoder.6.bias",
        "memory_encoder.mask_memory.mask_downsampler.encoder.6.weight",
    ]
    for source, target in report.loaded:
        assert source == "maskmem_tpos_enc" or torch.equal(converted[target], sd[source])
    assert any("mask_decoder.num_heads is 2" in text for text in report.warnings)
    summary = report.summary()
    assert f"{len(report.loaded)} tensors loaded, 2 skipped for shape" in summary


def test_sam2_1_layout_at_real_sizes_fits_the_small_config():
    """SAM2Base from sam2's own SAM 2.1 yaml (real sizes, random weights; Hiera shrunk)."""
    # importing sam2 registers its configs with Hydra (as sam2.build_sam relies on)
    sam2_cfg = compose(
        config_name="configs/sam2.1/sam2.1_hiera_t.yaml",
        overrides=[
            "model.image_encoder.trunk.embed_dim=8",
            "model.image_encoder.trunk.stages=[1,1,1,1]",
            "model.image_encoder.trunk.global_att_blocks=[]",
            "model.image_encoder.neck.backbone_channel_list=[64,32,16,8]",
        ],
    )
    sd = instantiate(sam2_cfg.model, _recursive_=True).state_dict()
    converted, report = convert_sam2_state_dict(sd, load_config("small"))
    assert report.warnings == []
    assert len(report.loaded) == len(converted) == 296
    assert [item.source for item in report.skipped_shape] == [
        "memory_encoder.mask_downsampler.encoder.6.weight",
        "memory_encoder.mask_downsampler.encoder.6.bias",
    ]
    not_image_encoder = {k for k in report.unused if not k.startswith("image_encoder.")}
    assert not_image_encoder == {
        "no_mem_pos_enc",
        "mask_downsample.weight",
        "mask_downsample.bias",
        *(
            f"memory_encoder.mask_downsampler.encoder.{i}.{p}"
            for i in (7, 9, 10, 12)
            for p in ("weight", "bias")
        ),
    }
    assert len(report.not_loaded) == 2


def test_sam2_width_mismatch_loads_only_what_fits(official, sam2_file, tiny_cfg):
    wider = dataclasses.replace(
        tiny_cfg, encoder=dataclasses.replace(tiny_cfg.encoder, neck_dim=64)
    )
    converted, report = convert_sam2_state_dict(read_sam2_checkpoint(sam2_file), wider)
    assert any("encoder.neck_dim (d_model) is 64" in text for text in report.warnings)
    # only layers whose every tensor is width-independent fit (a layer loads whole or not at all)
    layers = {k.rsplit(".", 1)[0] if k.endswith(("weight", "bias")) else k for k in converted}
    assert layers == {
        *(f"mask_head.prompt_encoder.mask_downscaling.{i}" for i in (0, 1, 3, 4)),
        *(f"memory_encoder.mask_memory.mask_downsampler.encoder.{i}" for i in (0, 1, 3, 4)),
        "mask_head.mask_decoder.iou_prediction_head.layers.1",  # 32 x 32 hidden layer
        "mask_head.mask_decoder.iou_prediction_head.layers.2",
        "memory_attention.time_embed",
        "memory_encoder.no_obj_embed_spatial",
    }
    skipped = {str(item) for item in report.skipped_shape}
    assert any(
        text.startswith("memory_attention.layers.0.linear1.bias") and "(rest of layer)" in text
        for text in skipped
    )


def test_from_components_reproduces_both_sources(official, sam2_file, tiny_cfg, tmp_path):
    dino = tiny_vit(hidden=48, heads=2, image_size=56)  # the tiny config's ViT geometry
    dino.save_pretrained(tmp_path / "dino")
    torch.manual_seed(0)
    model = from_components(dinov2=tmp_path / "dino", sam2_checkpoint=sam2_file, config=tiny_cfg)
    torch.manual_seed(0)
    fresh = build_model(tiny_cfg)
    assert not model.training and model.config.encoder.pretrained is None
    # new parts keep their initialization
    for name in ("detr_decoder", "detection_head", "refinement_head"):
        for (key, a), b in zip(
            getattr(model, name).state_dict().items(),
            getattr(fresh, name).state_dict().values(),
            strict=True,
        ):
            assert torch.equal(a, b), f"{name}.{key}"
    assert torch.equal(model.encoder.neck.token_proj.weight, fresh.encoder.neck.token_proj.weight)
    # DINOv2 at 112 px equals the source model fed 112 px
    assert torch.equal(run_vit(model.encoder.vit, S), run_vit(dino, S))
    check_sam2_parts_match(model, official)


def check_sam2_parts_match(model, official):
    """The loaded submodules give the official modules' outputs on the same inputs."""
    torch.manual_seed(4)
    head = model.mask_head
    points = (torch.rand(2, 3, 2) * S, torch.tensor([[1, 0, -1], [2, 3, -1]]))
    masks = torch.rand(2, 1, 4 * G, 4 * G)
    with torch.no_grad():
        for ours, theirs in zip(
            head.prompt_encoder(points, None, masks),
            official.sam_prompt_encoder(points, None, masks),
            strict=True,
        ):
            assert torch.equal(ours, theirs)
        sparse, dense = official.sam_prompt_encoder(points, None, None)
        decoder_inputs = dict(
            image_embeddings=torch.randn(2, D, G, G),
            image_pe=official.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense.expand(2, -1, -1, -1),
            multimask_output=True,
            repeat_image=False,
            high_res_features=[
                torch.randn(2, D // 8, 4 * G, 4 * G),
                torch.randn(2, D // 4, 2 * G, 2 * G),
            ],
        )
        for ours, theirs in zip(
            head.mask_decoder(**decoder_inputs),
            official.sam_mask_decoder(**decoder_inputs),
            strict=True,
        ):
            assert torch.equal(ours, theirs)
        tokens = torch.randn(2, D)
        assert torch.equal(head.obj_ptr_proj(tokens), official.obj_ptr_proj(tokens))
        memory = dict(
            curr=torch.randn(G * G, 2, D),
            curr_pos=torch.randn(G * G, 2, D),
            memory=torch.randn(2 * G * G + 4, 2, MEM),
            memory_pos=torch.randn(2 * G * G + 4, 2, MEM),
            num_obj_ptr_tokens=4,
        )
        assert torch.equal(
            model.memory_attention.transformer(**memory), official.memory_attention(**memory)
        )
        pix = torch.randn(2, D, G, G)
        ours_mem, theirs_mem = model.memory_encoder.mask_memory, official.memory_encoder
        assert torch.equal(ours_mem.fuser(pix), theirs_mem.fuser(pix))
        assert torch.equal(ours_mem.out_proj(pix), theirs_mem.out_proj(pix))
    pairs = {
        "no_obj_ptr": head.no_obj_ptr,
        "no_mem_embed": model.memory_attention.no_mem_embed,
        "no_obj_embed_spatial": model.memory_encoder.no_obj_embed_spatial,
        "obj_ptr_tpos_proj.weight": model.memory_attention.ptr_time_proj.weight,
    }
    for key, value in pairs.items():
        assert torch.equal(value, official.state_dict()[key]), key
    slots = official.maskmem_tpos_enc[list(SAM2_SLOT_OF_TIME_BUCKET), 0, 0]
    assert torch.equal(model.memory_attention.time_embed, slots)
    assert torch.equal(model.memory_attention.time_embed[0], official.maskmem_tpos_enc[6, 0, 0])


@pytest.mark.parametrize(
    "hidden, heads, message",
    [
        (32, 2, r"shape mismatches .*embeddings\.cls_token: checkpoint \(1, 1, 32\) vs model "),
        (48, 3, r"num_attention_heads: checkpoint 3 vs model 2"),
    ],
)
def test_from_components_rejects_a_dinov2_of_another_geometry(
    hidden, heads, message, tiny_cfg, tmp_path
):
    tiny_vit(hidden=hidden, heads=heads).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=message):
        from_components(dinov2=tmp_path, config=tiny_cfg)


@pytest.mark.parametrize(
    "content, error, message",
    [
        ("text", ValueError, "not a PyTorch checkpoint"),
        ("plain_state_dict", ValueError, r"expected a dict whose 'model' entry .*no_mem_embed"),
        ("model_not_tensors", ValueError, "expected a dict whose 'model' entry"),
        ("missing", FileNotFoundError, "no SAM 2 checkpoint"),
    ],
)
def test_bad_sam2_checkpoints_raise(content, error, message, tiny_cfg, tmp_path):
    path = tmp_path / "sam2.pt"
    if content == "text":
        path.write_text("not a checkpoint")
    if content == "plain_state_dict":
        torch.save({"no_mem_embed": torch.zeros(1, 1, D)}, path)
    if content == "model_not_tensors":
        torch.save({"model": {"no_mem_embed": [1.0, 2.0]}}, path)
    with pytest.raises(error, match=message):
        from_components(sam2_checkpoint=path, config=tiny_cfg)


def test_from_components_rejects_a_config_of_the_wrong_type():
    with pytest.raises(TypeError, match="preset name, a YAML path or a ModelConfig"):
        from_components(config=3)


# ---------------------------------------------------------------- real checkpoints (skipped)

REAL_DINOV2 = os.environ.get("SAM2E_DINOV2")  # folder or Hub id, e.g. facebook/dinov2-small
REAL_SAM2 = os.environ.get("SAM2E_SAM2_CHECKPOINT")  # e.g. /ckpt/sam2.1_hiera_tiny.pt


@pytest.mark.real_weights
@pytest.mark.skipif(REAL_DINOV2 is None, reason="set SAM2E_DINOV2 to a real DINOv2 checkpoint")
def test_real_dinov2_matches_transformers_from_pretrained():
    reference = Dinov2Model.from_pretrained(REAL_DINOV2).eval()
    loaded = load_pretrained_dinov2(REAL_DINOV2, image_size=224).eval()
    torch.testing.assert_close(run_vit(loaded, 224), run_vit(reference, 224))


@pytest.mark.real_weights
@pytest.mark.skipif(REAL_SAM2 is None, reason="set SAM2E_SAM2_CHECKPOINT to a SAM 2.1 .pt file")
def test_real_sam2_checkpoint_fills_the_small_config():
    model = from_components(sam2_checkpoint=REAL_SAM2, config="small")
    sd = read_sam2_checkpoint(REAL_SAM2)
    _, report = convert_sam2_state_dict(sd, model.config)
    assert not report.warnings
    assert {item.source.rsplit(".", 1)[0] for item in report.skipped_shape} == {
        "memory_encoder.mask_downsampler.encoder.6"
    }
    assert all(
        k.startswith(
            ("image_encoder.", "memory_encoder.mask_downsampler.", "no_mem_pos", "mask_downsample.")
        )
        for k in report.unused
    )
    assert torch.equal(model.mask_head.no_obj_ptr, sd["no_obj_ptr"])
