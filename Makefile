# Two entry points for a fresh machine: `make demo` (set up + run the main job) and `make test`.
# Set-up follows the verified recipe: PyPI torch + torchvision first, then sam2 built against
# them without build isolation (its CUDA extension is skipped), then this package.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint format bench validate results real-val long-sot clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch torchvision
	SAM2_BUILD_CUDA=0 $(PY) -m pip install -q --no-build-isolation sam2==1.1.0
	$(PY) -m pip install -q -e ".[dev]"
	# supervision pulls opencv-python, which shadows the contrib build's cv2 (CSRT/KCF trackers)
	$(PY) -m pip install -q --force-reinstall --no-deps opencv-contrib-python-headless
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sam2e demo --out outputs/demo

test: $(STAMP)
	$(PY) -m ruff check sam2_enhanced scripts tests
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check sam2_enhanced scripts tests
	$(PY) -m ruff format --check sam2_enhanced scripts tests

format: $(STAMP)
	$(PY) -m ruff format sam2_enhanced scripts tests
	$(PY) -m ruff check --fix sam2_enhanced scripts tests

bench: $(STAMP)
	$(VENV)/bin/sam2e bench --configs default --image-size 224 --objects 1,3 --frames 100 --threads 1

# docs/training.md: the bundled model on the first 20 videos of the validation split (training's
# own loop), next to the trivial baselines (empty mask; prompt box filled and repeated)
validate: $(STAMP)
	$(PY) scripts/validate.py --threads 2

# docs/results.md: the bundled model, the baselines and the trivial baselines under each protocol,
# on the first 20 videos of the synthetic test split (never used to choose anything) and on the
# sample sequences in $(SHARED) (not part of the repository); the init / prompt frame is unscored
SHARED ?= ../shared/data
RESULTS ?= outputs/results
EVAL := $(VENV)/bin/sam2e eval
results: $(STAMP)
	$(EVAL) sot --synthetic 20 --out $(RESULTS)/sot_synthetic --threads 2
	$(EVAL) mot --synthetic 20 --out $(RESULTS)/mot_synthetic --threads 2
	$(EVAL) vos --synthetic 20 --out $(RESULTS)/vos_synthetic --threads 2
	$(EVAL) sot --data $(SHARED)/uav123_wakeboard10 $(SHARED)/antiuav_ir_seq5 \
		--out $(RESULTS)/sot_shared --threads 2
	$(EVAL) vos --data $(SHARED)/davis2016_car-shadow --out $(RESULTS)/vos_shared --threads 2

# docs/architecture.md "Online target model": the ablation arms (target_model.mode), CSRT, KCF
# and the trivial static box on the real-val table (real_val/ plus the train_real sequences of
# sam2_enhanced/data/real_val_sequences.txt, never trained on) and on the long synthetic videos
# (LONG_SPLIT=val for choices, test for reporting)
REAL_VAL := $(SHARED)/real_val $(addprefix $(SHARED)/train_real/,$(shell grep -v '^\#' sam2_enhanced/data/real_val_sequences.txt))
ARMS := ours-network,ours-target,ours-fused,csrt,kcf,static
LONG_VIDEOS ?= 10
LONG_SPLIT ?= test
real-val: $(STAMP)
	$(EVAL) sot --data $(REAL_VAL) --methods $(ARMS) --tiles off --out $(RESULTS)/sot_real_val --threads 1
long-sot: $(STAMP)
	$(EVAL) sot --synthetic $(LONG_VIDEOS) --long --split $(LONG_SPLIT) --methods ours-fused,ours-target,csrt,kcf,static \
		--tiles off --out $(RESULTS)/sot_long_$(LONG_SPLIT) --threads 1

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
