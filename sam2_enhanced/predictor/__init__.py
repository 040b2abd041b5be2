"""The video predictor's parts; the predictor is :mod:`sam2_enhanced.enhanced_video_predictor`.

- :mod:`~sam2_enhanced.predictor.video_state`: ``VideoState`` (the state), frames, outputs;
- :mod:`~sam2_enhanced.predictor.prompts`: the prompt calls (a mixin of the predictor);
- :mod:`~sam2_enhanced.predictor.prompt_inputs`: checks and conversion of prompt arguments;
- :mod:`~sam2_enhanced.predictor.memory`: memories and outputs of a frame (a mixin);
- :mod:`~sam2_enhanced.predictor.object_windows`: each tracked object's search window;
- :mod:`~sam2_enhanced.predictor.tiled_detection`: detection on tiles of large frames;
- :mod:`~sam2_enhanced.predictor.detections`: per-frame ``supervision.Detections``;
- :mod:`~sam2_enhanced.predictor.tracking`: detection-driven tracks (no-prompt tracking);
- :mod:`~sam2_enhanced.predictor.redetection`: re-detection of lost prompted objects;
- :mod:`~sam2_enhanced.predictor.motion_policy`: motion classes acting on memory and windows;
- :mod:`~sam2_enhanced.predictor.class_names`: ``class_id -> name``, unknown class (-1) too;
- :mod:`~sam2_enhanced.predictor.annotate`: drawing outputs.

This file imports nothing, so importing one part never pulls in the others (nor the model).
"""
