"""Training: one TrainConfig, one loop with a stepper per face, checkpoints and history.

    config.py         TrainConfig: every option, its choices, defaults and checks
    loop.py           train(config): the loop both faces share
    book_face.py      the book's networks and update, as the loop's stepper
    convnet_face.py   the book's SimpleConvNet / DeepConvNet and optimizers, as the stepper
    autograd_face.py  chainrule.nn + chainrule.optim, as the loop's stepper
    data.py           the data set, cut to size and checked
    checkpoints.py    resumable autograd checkpoints (safetensors)
    history.py        history.json, summary.json and the curves
    guards.py         stopping on a loss (or parameter) of nan or inf
    outputs.py        a run's paths checked up front, its files written afterwards
    progress.py       the progress display fed by the loop's callbacks
    book_weights.py   the book's pickled weights, read safely and converted to safetensors

Names load on first use, so reading TrainConfig's choices (as `chainrule train --help`
does) imports no NumPy. `chainrule.training` and `chainrule.nn_training`, the former
homes of these names, resolve to this package.
"""
from __future__ import annotations

import importlib

# public name -> the module of this package that defines it
_HOMES = {
    **dict.fromkeys(("TrainConfig", "AutogradConfig", "ConfigError", "APIS", "DATASETS",
                     "OPTIMIZERS", "DEFAULT_LR", "DTYPES", "WEIGHT_INITS", "parse_hidden",
                     "from_text", "MODELS", "CONVNETS", "TRAIN_SIZES"), "config"),
    **dict.fromkeys(("train", "train_book", "train_autograd", "make_evaluator", "FACES",
                     "TRAINERS", "OnIter", "OnEval", "OnGrads"), "loop"),
    **dict.fromkeys(("BookFace",), "book_face"),
    **dict.fromkeys(("ConvNetFace", "BOOK_OPTIMIZERS"), "convnet_face"),
    **dict.fromkeys(("AutogradFace", "build_mlp", "make_optimizer", "accuracy"),
                    "autograd_face"),
    **dict.fromkeys(("Data", "load_data", "check_data", "TOY_TRAIN_SIZE", "TOY_TEST_SIZE"),
                    "data"),
    **dict.fromkeys(("CHECKPOINT_FORMAT", "RESUME_FIELDS", "save_checkpoint",
                     "load_checkpoint", "resume_from"), "checkpoints"),
    **dict.fromkeys(("new_history", "finish_history", "save_history", "plot_history",
                     "format_summary"), "history"),
    **dict.fromkeys(("NonFiniteLossError", "stop_if_not_finite", "worst_value"), "guards"),
    **dict.fromkeys(("check_paths", "unwritable", "default_out_dir", "write_outputs",
                     "grad_flow_recorder", "header"), "outputs"),
    **dict.fromkeys(("Progress",), "progress"),
    **dict.fromkeys(("UnsafePickleError", "load_pickle_arrays", "convert_pickle"),
                    "book_weights"),
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOMES))
