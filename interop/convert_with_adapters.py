"""Converts an UNMERGED tfjs-oft model (OrthogonalDense / ButterflyDense layers, adapters still
trainable) to a Keras SavedModel, with the tf_keras counterparts in tfjs_oft_keras.py.

    python interop/convert_with_adapters.py MODEL_JSON SAVED_MODEL_DIR

It does what `tensorflowjs_converter --input_format=tfjs_layers_model
--output_format=keras_saved_model` does, with tfjs-oft's layer classes registered (the plain
converter knows only Keras' built-in layers). Load the result with
`tf.saved_model.load(dir)` (no Python classes needed for the serving signature), or with
`tf_keras.models.load_model(dir, custom_objects=tfjs_oft_keras.CUSTOM_OBJECTS)` to keep training.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tf_keras  # noqa: E402
from tensorflowjs.converters import converter  # noqa: E402

import tfjs_oft_keras  # noqa: E402


def main(model_json, saved_dir):
    with tf_keras.utils.custom_object_scope(tfjs_oft_keras.CUSTOM_OBJECTS):
        converter.dispatch_tensorflowjs_to_keras_saved_model_conversion(model_json, saved_dir)
    print(saved_dir)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
