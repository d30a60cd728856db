"""The trained network evaluated with NumPy alone, so that predict and detect-anomalies never
import TensorFlow (its import alone takes seconds and hundreds of megabytes).

It computes what the Keras model of :func:`forecaster.models.build_network` computes, from the
same weights: the window step by step or as embedded segments (a dense layer with ReLU), stacked
LSTM / GRU / SimpleRNN layers, each optionally bidirectional (outputs concatenated, forward
first), a dense head emitting every horizon step, and the optional linear skip from the whole
window; for an ensemble, several such stacks and heads whose
outputs are averaged before the one linear skip is added. Keras' defaults are assumed, as
``build_network`` leaves them: ``tanh`` activations, ``sigmoid`` recurrent activations,
biases, and the GRU with ``reset_after=True``. Dropout does nothing at inference, so it has no place here.

The weights are stored as named float32 arrays in an ``.npz`` file (no pickle); the layer
structure comes from the model's description in ``metadata.json`` and is checked against them.
"""

from __future__ import annotations

import os
from typing import IO, Any

import numpy as np

from .models import member_prefix

#: Blocks of each weight matrix, in the order Keras lays them out along the last axis.
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
#: What the structure needs of a network description; the rest (dropout, model) is ignored.
STRUCTURE = ("cell", "layers", "units", "bidirectional", "linear_skip", "lookback", "horizon", "n_features",
             "ensemble", "segment")
#: Structural keys that descriptions written before them lack, and the value those meant.
STRUCTURE_DEFAULTS = {"ensemble": 1, "segment": 1}
#: Bytes of intermediate arrays one chunk of windows may take (a chunk per CPU core at a
#: time); bounds memory however many windows are predicted at once.
CHUNK_BYTES = 32 * 2**20
#: Up to this many windows are predicted in the calling thread as one chunk.
SMALL = 64
#: Largest difference from Keras' outputs (scaled units) at which the copy counts as exact;
#: float32 arithmetic in another order differs by about 1e-6.
PARITY_TOLERANCE = 1e-4


class NumpyNetwork:
    """A trained recurrent network as NumPy arrays, with the predictor interface of
    :mod:`forecaster.baselines`.

    Args:
        spec: the network description (``metadata["network"]`` or a
            :class:`forecaster.models.NetworkSpec`); needs the keys of :data:`STRUCTURE`.
        weights: float32 arrays by name, shaped as :func:`weight_shapes` says.

    Raises:
        ValueError: ``spec`` is incomplete or ``weights`` do not fit it (names the array, the
            shape expected and the shape found).
    """

    def __init__(self, spec: Any, weights: dict[str, np.ndarray]) -> None:
        self.spec = _structure(spec)
        expected = weight_shapes(self.spec)
        missing = sorted(set(expected) - set(weights))
        extra = sorted(set(weights) - set(expected))
        if missing or extra:
            raise ValueError(
                "its arrays do not match the network description"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unexpected {', '.join(extra)}" if extra else "")
            )
        self.weights: dict[str, np.ndarray] = {}
        for name, shape in expected.items():
            array = np.asarray(weights[name])
            if array.shape != shape:
                raise ValueError(f"{name} has shape {array.shape}, the network description needs {shape}")
            if array.dtype.kind != "f":
                raise ValueError(f"{name} holds {array.dtype} values, not floating point numbers")
            self.weights[name] = array.astype(np.float32, copy=False)
        self.lookback: int = self.spec["lookback"]
        self.horizon: int = self.spec["horizon"]
        directions = ("forward", "backward") if self.spec["bidirectional"] else ("forward",)
        cell, units = self.spec["cell"], self.spec["units"]
        #: each member's weight name prefix, and its layers as lists of directions
        self._members = [
            (member, [[_prepared(cell, units, self.weights, f"{member}layer{depth}_{direction}")
                       for direction in directions]
                      for depth in range(1, self.spec["layers"] + 1)])
            for member in _prefixes(self.spec)
        ]  # fmt: skip

    @property
    def output_shape(self) -> tuple[None, int]:
        return (None, self.horizon)

    # --- Keras and files ---------------------------------------------------------------------

    @classmethod
    def from_keras(cls, model: Any, spec: Any) -> NumpyNetwork:
        """Copy the weights of a Keras model built by :func:`forecaster.models.build_network`.

        Layers are found by the names ``build_network`` gives them, so a model of another
        structure fails here (ValueError from Keras or from the shape check) rather than
        predicting nonsense.
        """
        structure = _structure(spec)
        weights: dict[str, np.ndarray] = {}
        prefixes = _prefixes(structure)
        for member in prefixes:
            if structure["segment"] > 1:
                kernel, bias = model.get_layer(f"{member}segment_embedding").get_weights()
                weights[f"{member}segment_embedding_kernel"] = kernel
                weights[f"{member}segment_embedding_bias"] = bias
            for depth in range(1, structure["layers"] + 1):
                if structure["bidirectional"]:
                    wrapper = model.get_layer(f"{member}bidirectional_{depth}")
                    directions = {"forward": wrapper.forward_layer, "backward": wrapper.backward_layer}
                else:
                    directions = {"forward": model.get_layer(f"{member}{structure['cell']}_{depth}")}
                for direction, layer in directions.items():
                    kernel, recurrent_kernel, bias = layer.get_weights()
                    prefix = f"{member}layer{depth}_{direction}"
                    weights[f"{prefix}_kernel"] = kernel
                    weights[f"{prefix}_recurrent_kernel"] = recurrent_kernel
                    weights[f"{prefix}_bias"] = bias
        dense = [f"{member}horizon" for member in prefixes] + (["linear_skip"] if structure["linear_skip"] else [])
        for layer_name in dense:
            kernel, bias = model.get_layer(layer_name).get_weights()
            weights[f"{layer_name}_kernel"] = kernel
            weights[f"{layer_name}_bias"] = bias
        return cls(structure, weights)

    def difference_from(self, model: Any, windows: np.ndarray) -> float:
        """The largest absolute difference between this copy's and the Keras ``model``'s outputs.

        Training checks it, so that a Keras version that lays out its weights otherwise than
        this module assumes cannot lead to a model that predicts differently than it was
        evaluated.

        Args:
            windows: `(n_windows, lookback, n_features)` relative windows.
        """
        if len(windows) == 0:
            return 0.0
        expected = np.asarray(model.predict(windows, verbose=0), dtype=np.float64)
        return float(np.max(np.abs(self.predict(windows).astype(np.float64) - expected)))

    def save(self, path: str | os.PathLike) -> None:
        """Write the weights as named float32 arrays (``np.load`` reads them without pickle)."""
        with open(path, "wb") as handle:
            np.savez(handle, **self.weights)

    @classmethod
    def load(cls, file: str | os.PathLike | IO[bytes], spec: Any) -> NumpyNetwork:
        """Read weights written by :meth:`save` for the network ``spec`` describes.

        Raises:
            ValueError: the file is not an ``.npz`` of plain arrays (object arrays are refused,
                never unpickled), or its arrays do not fit ``spec``.
            OSError, EOFError, zipfile.BadZipFile: the file is damaged.
        """
        with np.load(file, allow_pickle=False) as stored:
            weights = {name: stored[name] for name in stored.files}
        return cls(spec, weights)

    # --- the forward pass --------------------------------------------------------------------

    def predict(self, windows: np.ndarray, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """Forecast from windows relative to their level, as the Keras model does.

        Chunks of windows run in parallel threads, one per CPU core (NumPy releases the GIL),
        with single-threaded BLAS: the recurrent matrix products of one step are too small for
        BLAS's own threads to pay for their synchronisation, which on a busy machine made them
        several times slower.

        Args:
            windows: `(n_windows, lookback, n_features)`.
            batch_size: at most this many windows at a time (fewer when the intermediate
                arrays of that many would exceed :data:`CHUNK_BYTES`).
            verbose: ignored; Keras' signature.

        Returns:
            `(n_windows, horizon)` float32.
        """
        windows = np.asarray(windows, dtype=np.float32)
        shape = (self.lookback, self.spec["n_features"])
        if windows.ndim != 3 or windows.shape[1:] != shape:
            raise ValueError(f"windows must be (n_windows, {shape[0]}, {shape[1]}), got {windows.shape}")
        outputs = np.empty((len(windows), self.horizon), dtype=np.float32)
        if len(windows) == 0:
            return outputs
        if len(windows) <= SMALL:  # predict's few windows: no threads to start
            outputs[:] = self._forward(windows)
            return outputs
        workers = _cores()
        chunk = min(self._chunk_size(batch_size), -(-len(windows) // workers))
        starts = range(0, len(windows), chunk)

        def run(start: int) -> None:
            outputs[start : start + chunk] = self._forward(windows[start : start + chunk])

        with _single_threaded_blas():
            if workers == 1 or len(starts) == 1:
                for start in starts:
                    run(start)
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(min(workers, len(starts))) as pool:
                    list(pool.map(run, starts))  # list(): an exception in a thread is raised here
        return outputs

    def _chunk_size(self, batch_size: int | None) -> int:
        units, directions = self.spec["units"], 2 if self.spec["bidirectional"] else 1
        # the input projection of one direction plus the sequences a layer takes and hands on
        per_window = 4 * self.lookback * (GATES[self.spec["cell"]] * units + 2 * directions * units)
        chunk = max(1, CHUNK_BYTES // per_window)
        return min(chunk, batch_size) if batch_size else chunk

    def _forward(self, windows: np.ndarray) -> np.ndarray:
        """`(n, lookback, n_features)` float32 -> `(n, horizon)` float32."""
        spec, weights = self.spec, self.weights
        forecast = None
        for member, layers in self._members:
            # time-major, so that each step's slice of every array is one contiguous block
            hidden = (self._segments(windows, member) if spec["segment"] > 1 else windows).transpose(1, 0, 2)
            for depth, directions in enumerate(layers, start=1):
                sequences = depth < spec["layers"]
                outputs = [
                    _recurrent(spec["cell"], spec["units"], prepared, hidden, sequences, backwards=direction == 1)
                    for direction, prepared in enumerate(directions)
                ]
                hidden = np.concatenate(outputs, axis=-1) if len(outputs) > 1 else outputs[0]
            correction = hidden @ weights[f"{member}horizon_kernel"] + weights[f"{member}horizon_bias"]
            forecast = correction if forecast is None else forecast + correction
        if len(self._members) > 1:
            forecast /= len(self._members)  # summed in member order, then divided, as keras.layers.Average
        if spec["linear_skip"]:
            flat = windows.reshape(len(windows), -1)  # row-major, as keras.layers.Flatten
            forecast += flat @ weights["linear_skip_kernel"] + weights["linear_skip_bias"]
        return forecast


    def _segments(self, windows: np.ndarray, member: str) -> np.ndarray:
        """`(n, lookback, n_features)` -> `(n, n_segments, units)`, as
        :func:`forecaster.models.segment_embedding`."""
        segment = self.spec["segment"]
        n_segments = self.lookback // segment
        runs = windows[:, self.lookback - n_segments * segment :].reshape(len(windows), n_segments, -1)
        embedded = runs @ self.weights[f"{member}segment_embedding_kernel"]
        embedded += self.weights[f"{member}segment_embedding_bias"]
        return np.maximum(embedded, 0, out=embedded)


def _prepared(cell: str, units: int, weights: dict[str, np.ndarray], prefix: str) -> tuple[np.ndarray, ...]:
    """One recurrent layer's weights laid out for :func:`_recurrent`: ``(kernel,
    recurrent_kernel, input_bias, recurrent_bias)``, in Keras' layout but for two changes
    that change no result.

    The columns of the gates that go through a sigmoid are halved, because the sigmoid is
    computed as ``0.5 * tanh(x / 2) + 0.5`` (one ufunc instead of an exponential, an addition
    and a division, and no overflow) and halving is exact in binary floating point. The
    LSTM's columns are put in the order i, f, o, c, so that its three sigmoid gates are one
    block.
    """
    kernel = weights[f"{prefix}_kernel"]
    recurrent_kernel = weights[f"{prefix}_recurrent_kernel"]
    bias = weights[f"{prefix}_bias"]
    if cell == "lstm":
        order = np.r_[0 : 2 * units, 3 * units : 4 * units, 2 * units : 3 * units]  # i, f, c, o -> i, f, o, c
        kernel, recurrent_kernel, bias = kernel[:, order], recurrent_kernel[:, order], bias[order]
        halved = 3 * units
    else:
        halved = 2 * units if cell == "gru" else 0  # the GRU's update and reset gates
    scale = np.ones(kernel.shape[1], dtype=np.float32)
    scale[:halved] = 0.5
    if cell == "gru":  # reset_after: separate input and recurrent biases
        input_bias, recurrent_bias = bias[0] * scale, bias[1] * scale
    else:
        input_bias, recurrent_bias = bias * scale, None
    return kernel * scale, recurrent_kernel * scale, input_bias, recurrent_bias


def _recurrent(cell: str, units: int, prepared: tuple[np.ndarray, ...], inputs: np.ndarray, sequences: bool,
               backwards: bool) -> np.ndarray:  # fmt: skip
    """One direction of one recurrent layer, working in place on preallocated arrays.

    Args:
        prepared: the layer's weights from :func:`_prepared`.
        inputs: `(lookback, n, input_dim)`, time-major.
        sequences: return the output of every step (for the next layer) or only the last.
        backwards: run from the last step to the first (Keras' ``go_backwards``); each
            step's output is stored at its own time, which is the order ``Bidirectional``
            puts the backward sequence back into.

    Returns:
        `(lookback, n, units)` if ``sequences`` else `(n, units)`.
    """
    kernel, recurrent_kernel, input_bias, recurrent_bias = prepared
    steps, n, _ = inputs.shape
    # every step's input part at once; only the recurrent part has to wait for the previous step
    projected = np.matmul(inputs, kernel)
    projected += input_bias
    state = np.zeros((n, units), dtype=np.float32)
    outputs = np.empty((steps, n, units), dtype=np.float32) if sequences else None
    gates = np.empty((n, kernel.shape[1]), dtype=np.float32)
    scratch = np.empty((n, units), dtype=np.float32)
    carry = np.zeros((n, units), dtype=np.float32)  # the LSTM's cell state
    for t in range(steps - 1, -1, -1) if backwards else range(steps):
        np.matmul(state, recurrent_kernel, out=gates)
        target = outputs[t] if outputs is not None else state  # where the new state goes
        if cell == "lstm":
            gates += projected[t]
            np.tanh(gates, out=gates)
            sigmoid = gates[:, : 3 * units]
            sigmoid *= 0.5
            sigmoid += 0.5
            carry *= gates[:, units : 2 * units]  # forget
            np.multiply(gates[:, :units], gates[:, 3 * units :], out=scratch)  # input * candidate
            carry += scratch
            np.tanh(carry, out=target)
            target *= gates[:, 2 * units : 3 * units]  # output
        elif cell == "gru":
            gates += recurrent_bias
            sigmoid = gates[:, : 2 * units]
            sigmoid += projected[t, :, : 2 * units]
            np.tanh(sigmoid, out=sigmoid)
            sigmoid *= 0.5
            sigmoid += 0.5
            update, reset, candidate = gates[:, :units], gates[:, units : 2 * units], gates[:, 2 * units :]
            candidate *= reset  # reset_after: the reset gate scales the recurrent part after its product
            candidate += projected[t, :, 2 * units :]
            np.tanh(candidate, out=candidate)
            np.subtract(state, candidate, out=scratch)  # new state: candidate + update * (state - candidate)
            scratch *= update
            np.add(candidate, scratch, out=target)
        else:
            gates += projected[t]
            np.tanh(gates, out=target)
        state = target
    return state if outputs is None else outputs


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _single_threaded_blas():
    """A context in which BLAS uses one thread (a no-op without threadpoolctl, which
    scikit-learn brings)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def weight_shapes(spec: Any) -> dict[str, tuple[int, ...]]:
    """The name and shape of every array a network of ``spec`` has, in Keras' layout.

    Per ensemble member, its names starting with :func:`forecaster.models.member_prefix`
    (nothing for a single network; ``member1_``, ``member2_``, ... for an ensemble), and per
    segmented window (``segment`` above 1) ``segment_embedding_kernel``
    `(segment * n_features, units)` and ``segment_embedding_bias`` `(units,)`, per
    recurrent layer ``d`` (1-based) and direction (``forward``, and ``backward`` when
    bidirectional): ``layer{d}_{direction}_kernel`` `(input_dim, gates * units)`,
    ``..._recurrent_kernel`` `(units, gates * units)` and ``..._bias`` `(gates * units,)`
    (the GRU: `(2, 3 * units)`, input and recurrent bias); then ``horizon_kernel``
    `(directions * units, horizon)` and ``horizon_bias`` `(horizon,)`; then, shared by the
    members, with the linear skip, ``linear_skip_kernel`` `(lookback * n_features, horizon)`
    and ``linear_skip_bias``.
    """
    structure = _structure(spec)
    cell, units, horizon = structure["cell"], structure["units"], structure["horizon"]
    directions = ("forward", "backward") if structure["bidirectional"] else ("forward",)
    width = GATES[cell] * units
    shapes: dict[str, tuple[int, ...]] = {}
    for member in _prefixes(structure):
        input_dim = structure["n_features"]
        if structure["segment"] > 1:
            shapes[f"{member}segment_embedding_kernel"] = (structure["segment"] * input_dim, units)
            shapes[f"{member}segment_embedding_bias"] = (units,)
            input_dim = units
        for depth in range(1, structure["layers"] + 1):
            for direction in directions:
                prefix = f"{member}layer{depth}_{direction}"
                shapes[f"{prefix}_kernel"] = (input_dim, width)
                shapes[f"{prefix}_recurrent_kernel"] = (units, width)
                shapes[f"{prefix}_bias"] = (2, width) if cell == "gru" else (width,)
            input_dim = len(directions) * units
        shapes[f"{member}horizon_kernel"] = (input_dim, horizon)
        shapes[f"{member}horizon_bias"] = (horizon,)
    if structure["linear_skip"]:
        shapes["linear_skip_kernel"] = (structure["lookback"] * structure["n_features"], horizon)
        shapes["linear_skip_bias"] = (horizon,)
    return shapes


def _prefixes(structure: dict[str, Any]) -> list[str]:
    """Each ensemble member's weight name prefix (one empty one for a single network)."""
    return [member_prefix(member, structure["ensemble"]) for member in range(1, structure["ensemble"] + 1)]


def _structure(spec: Any) -> dict[str, Any]:
    """The structural fields of a network description, checked (ValueError names the field);
    the keys of :data:`STRUCTURE_DEFAULTS` may be missing (older descriptions)."""
    if hasattr(spec, "to_dict"):
        spec = spec.to_dict()
    if not isinstance(spec, dict):
        raise ValueError(f"the network description must be a mapping, got {type(spec).__name__}")
    spec = {**STRUCTURE_DEFAULTS, **spec}
    missing = [key for key in STRUCTURE if key not in spec]
    if missing:
        raise ValueError(f"the network description lacks {', '.join(missing)}")
    structure = {key: spec[key] for key in STRUCTURE}
    if structure["cell"] not in GATES:
        raise ValueError(f"the network description's cell must be one of {', '.join(GATES)}, got {structure['cell']!r}")
    for key in ("bidirectional", "linear_skip"):
        if not isinstance(structure[key], bool):
            raise ValueError(f"the network description's {key} must be true or false, got {structure[key]!r}")
    for key in ("layers", "units", "lookback", "horizon", "n_features", "ensemble", "segment"):
        value = structure[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"the network description's {key} must be a positive integer, got {value!r}")
    return structure
