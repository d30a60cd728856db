"""An LSTM layer that runs its whole sequence as one TensorFlow kernel on the CPU.

Keras' LSTM on a CPU steps through the window in a graph loop, several small operations per
step, each with its own overhead, or compiled by XLA at a cost of seconds per training.
TensorFlow also has a fused LSTM kernel (``BlockLSTM``, with its gradient) that loops in C++
over the steps of the whole window: the same arithmetic, so the layer keeps Keras' weights
(handing the kernel their gate blocks in its order) and a model with it computes
what one with ``keras.layers.LSTM`` computes, to float rounding (measured: BENCHMARKS.md,
"The LSTM as one kernel"). Imported only where a network is built or loaded, since it imports
Keras.
"""

from __future__ import annotations

import functools
import os

from .backend import load_keras

keras = load_keras()


@functools.cache
def fused_kernel_available() -> bool:
    """Whether :class:`FusedLSTM` layers run the fused kernel here: on the TensorFlow
    backend without a GPU (with one, Keras' LSTM takes cuDNN, faster still)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


@functools.cache
def row_groups() -> int:
    """Into how many groups of rows a :class:`FusedLSTM` with ``split_rows`` splits a batch, each
    run by a kernel of its own: two where the process may use two cores or more, else one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 2 if cores >= 2 else 1


def fused_kernel_usable(layer) -> bool:
    """Whether ``layer`` computes what the kernel does: Keras' default activations, a bias,
    no recurrent dropout (the kernel has no place for it), not unrolled."""
    cell = layer.cell
    return (fused_kernel_available() and cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid and cell.use_bias
            and not layer.recurrent_dropout and not layer.unroll)


@keras.saving.register_keras_serializable(package="forecaster")
class FusedLSTM(keras.layers.LSTM):
    """``keras.layers.LSTM`` whose loop over the window is TensorFlow's fused kernel where
    :func:`fused_kernel_usable` allows, and Keras' own loop elsewhere; the same config and
    weights, the same results to float rounding, so it saves, loads (in safe mode, once this
    module is imported) and wraps in ``Bidirectional`` as the Keras layer does. XLA cannot
    compile the kernel, so a model with such a layer is not compiled by XLA
    (``supports_jit``), as Keras does for cuDNN's.

    Args:
        split_rows: run the kernel on :func:`row_groups` groups of a batch's rows, side by side
            (the rows are independent; one kernel is one thread, since its steps are
            sequential): on two cores an epoch of a lone LSTM trained 1.4 to 1.5 times as fast,
            with results that differ in float rounding (the weights' gradients are summed over
            the groups). Not where other recurrent layers already run beside it (both
            directions of a ``Bidirectional``, the members of an ensemble), which it would
            slow down (BENCHMARKS.md, "The LSTM kernel on two halves of each batch").
    """

    def __init__(self, *args, split_rows: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.split_rows = split_rows
        if fused_kernel_usable(self):
            self.supports_jit = False

    def get_config(self):
        return {**super().get_config(), "split_rows": self.split_rows}

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """`(batch, steps, features)` -> the last output `(batch, units)`, the outputs
        `(batch, steps, units)` (`(batch, 1, units)` unless ``return_sequences``) in the order
        the steps were taken, and the final states ``[h, c]``, as Keras' loop returns them."""
        if mask is not None or not fused_kernel_usable(self):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        import tensorflow as tf

        if training and self.dropout:
            # Keras' cell drops the same inputs at every step (one mask per sequence, drawn
            # before the loop): the same mask over the whole window
            sequences = sequences * self.cell.get_dropout_mask(sequences[:, 0, :])[:, None, :]
        steps_first = tf.transpose(sequences, (1, 0, 2))
        if self.go_backwards:
            steps_first = tf.reverse(steps_first, (0,))
        cell = self.cell
        no_peephole = tf.zeros((cell.units,), steps_first.dtype)
        weights = _kernel_gate_order(tf.concat([cell.kernel, cell.recurrent_kernel], axis=0))
        bias = _kernel_gate_order(cell.bias)

        def kernel(x, h, c):
            return tf.raw_ops.BlockLSTM(
                seq_len_max=tf.cast(tf.shape(x)[0], tf.int64),
                x=x,
                cs_prev=c,
                h_prev=h,
                w=weights,
                wci=no_peephole,
                wcf=no_peephole,
                wco=no_peephole,
                b=bias,
                forget_bias=0.0,  # Keras' bias holds it (unit_forget_bias)
                cell_clip=0.0,  # no clipping: Keras clips nothing
                use_peephole=False,
            )

        def in_groups(groups: int):
            """The outputs `(steps, batch, units)` and last cell states `(batch, units)` of the
            kernel run on ``groups`` groups of the rows (each at least one row)."""
            rows = tf.shape(steps_first)[1]
            sizes = tf.stack([rows // groups] * (groups - 1) + [rows - (groups - 1) * (rows // groups)])
            runs = [kernel(*parts) for parts in zip(tf.split(steps_first, sizes, axis=1, num=groups),
                                                     tf.split(initial_state[0], sizes, num=groups),
                                                     tf.split(initial_state[1], sizes, num=groups))]
            return tf.concat([run[6] for run in runs], axis=1), tf.concat([run[1][-1] for run in runs], axis=0)

        groups = row_groups() if self.split_rows else 1
        if groups == 1:
            outputs, cell_states = in_groups(1)
        else:
            # never an empty group: the kernel's gradient of the weights is then uninitialised
            # memory, not zero (found by this package's tests)
            outputs, cell_states = tf.cond(tf.shape(steps_first)[1] >= groups, lambda: in_groups(groups),
                                           lambda: in_groups(1))
        last = outputs[-1]
        sequence = tf.transpose(outputs, (1, 0, 2)) if self.return_sequences else last[:, None, :]
        return last, sequence, [last, cell_states]


def _kernel_gate_order(weights):
    """Keras' gate blocks (input, forget, cell, output) along the last axis in the order of
    the kernel ``BlockLSTM`` (input, cell, forget, output). Its twin ``BlockLSTMV2`` takes
    Keras' order, but TensorFlow registers ``BlockLSTM``'s gradient for it, which computes the
    gradient of the other order (found by this package's tests)."""
    import tensorflow as tf

    i, f, c, o = tf.split(weights, 4, axis=-1)
    return tf.concat([i, c, f, o], axis=-1)
