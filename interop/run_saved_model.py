"""Runs a TensorFlow SavedModel (as written by tfjs-oft's exportSavedModel) on given inputs.

    python interop/run_saved_model.py SAVED_MODEL_DIR INPUTS_JSON OUTPUTS_JSON

INPUTS_JSON: {"shape": [N, d], "data": [... N*d floats, row-major ...]}.
OUTPUTS_JSON receives, for the `serving_default` signature (the deployment path: TF Serving,
TFLite and `tf.saved_model.load` all go through it) and for the Keras object loaded with
`tf_keras.models.load_model`:
    {"tensorflow": "2.16.1", "signature": {"shape": [...], "data": [...]},
     "keras": {"shape": [...], "data": [...]}, "layers": [class names], "trainable": [weight names]}
Values are float32 outputs written as Python floats (exact: float32 -> float64 is lossless).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

import tfjs_oft_keras  # noqa: E402  (unmerged models: OrthogonalDense / ButterflyDense)


def as_json(t):
    a = np.asarray(t, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def main(saved_dir, inputs_path, outputs_path):
    with open(inputs_path) as f:
        spec = json.load(f)
    x = np.asarray(spec["data"], dtype=np.float32).reshape(spec["shape"])

    loaded = tf.saved_model.load(saved_dir)
    fn = loaded.signatures["serving_default"]
    _, kwargs = fn.structured_input_signature
    if len(kwargs) != 1:
        raise SystemExit(f"expected one input in serving_default, got {sorted(kwargs)}")
    (in_name,) = kwargs
    outs = fn(**{in_name: tf.constant(x)})
    if len(outs) != 1:
        raise SystemExit(f"expected one output in serving_default, got {sorted(outs)}")
    (sig_out,) = outs.values()

    with tf_keras.utils.custom_object_scope(tfjs_oft_keras.CUSTOM_OBJECTS):
        keras_model = tf_keras.models.load_model(saved_dir, compile=False)
    keras_out = keras_model(x, training=False)

    result = {
        "tensorflow": tf.__version__,
        "signature_input": in_name,
        "signature": as_json(sig_out),
        "keras": as_json(keras_out),
        "layers": [type(layer).__name__ for layer in keras_model.layers],
        "trainable": [w.name for w in keras_model.trainable_weights],
    }
    with open(outputs_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
