"""Progress bars for long loops and Keras training, so cells show a bar instead of logs.

Importing this module does not import Keras (so it may sit in a Setup cell before
``config.setup()``); ``progress.EpochBar`` builds its Keras class on first use.
"""

import functools

from tqdm import auto as tqdm_auto


def bar(iterable=None, total=None, description=None, **kwargs):
    """A tqdm progress bar that renders as a widget in Jupyter and as text in a terminal."""
    return tqdm_auto.tqdm(iterable, total=total, desc=description, leave=False, **kwargs)


@functools.cache
def _epoch_bar_class():
    """The Keras callback class, defined when first asked for."""
    import keras

    class EpochBar(keras.callbacks.Callback):
        """One progress bar over a ``model.fit`` run, one step per epoch, showing the last loss.

        Use with ``verbose=0``: ``model.fit(..., verbose=0, callbacks=[progress.EpochBar()])``.
        """

        def __init__(self, description="training"):
            super().__init__()
            self.description = description
            self._bar = None

        def on_train_begin(self, logs=None):
            """Open the bar sized to the number of epochs."""
            self._bar = bar(total=self.params.get("epochs"), description=self.description)

        def on_epoch_end(self, epoch, logs=None):
            """Advance one epoch and show the losses of the epoch."""
            shown = {key: f"{value:.4f}" for key, value in (logs or {}).items() if "loss" in key}
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(1)

        def on_train_end(self, logs=None):
            """Close the bar so the next one starts on a clean line."""
            self._bar.close()

    return EpochBar


def __getattr__(name):
    """Module attribute ``EpochBar``, created lazily (see the module docstring)."""
    if name == "EpochBar":
        return _epoch_bar_class()
    raise AttributeError(f"module 'course_utils.progress' has no attribute {name!r}")
