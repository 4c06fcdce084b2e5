"""Progress bars for long loops and Keras training, so cells show a bar instead of logs."""

import keras
from tqdm import auto as tqdm_auto


def bar(iterable=None, total=None, description=None, **kwargs):
    """A tqdm progress bar that renders as a widget in Jupyter and as text in a terminal."""
    return tqdm_auto.tqdm(iterable, total=total, desc=description, leave=False, **kwargs)


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
        """Advance one epoch and show the metrics of the epoch."""
        shown = {key: f"{value:.4f}" for key, value in (logs or {}).items() if "loss" in key}
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def on_train_end(self, logs=None):
        """Close the bar so the next one starts on a clean line."""
        self._bar.close()
