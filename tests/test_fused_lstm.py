"""The fused LSTM computes what Keras' LSTM computes: outputs, gradients and dropout, in
every arrangement the networks use it (stacked, backwards inside Bidirectional)."""

import numpy as np
import pytest

from forecaster.backend import load_keras, seed_everything
from forecaster.fused_lstm import FusedLSTM, fused_kernel_available, fused_kernel_usable, row_groups
from forecaster.models import NetworkSpec, build_network

keras = load_keras()


def _twin_models(return_sequences: bool, bidirectional: bool, dropout: float = 0.0, split_rows: bool = False):
    """The same two-layer model with Keras' LSTM and with the fused one, sharing weights."""
    models = []
    for layer_class in (keras.layers.LSTM, FusedLSTM):
        inputs = keras.Input((9, 3))
        hidden = inputs
        for depth in range(2):
            split = {"split_rows": split_rows} if layer_class is FusedLSTM else {}
            layer = layer_class(5, return_sequences=depth == 0 or return_sequences, dropout=dropout, seed=7, **split)
            hidden = (keras.layers.Bidirectional(layer) if bidirectional else layer)(hidden)
        models.append(keras.Model(inputs, keras.layers.Flatten()(hidden)))
    reference, fused = models
    rng = np.random.default_rng(0)
    fused.set_weights([rng.normal(0, 1.5, w.shape).astype("float32") for w in reference.get_weights()])
    reference.set_weights(fused.get_weights())
    return reference, fused


def test_the_kernel_runs_on_this_machine():
    # the CPU-only TensorFlow the tool installs: the rest of this file would compare Keras' loop
    # with itself otherwise
    assert fused_kernel_available()
    assert fused_kernel_usable(FusedLSTM(4))
    assert not fused_kernel_usable(FusedLSTM(4, recurrent_dropout=0.1))
    assert not fused_kernel_usable(FusedLSTM(4, activation="relu"))
    assert not FusedLSTM(4).supports_jit and keras.layers.LSTM(4).supports_jit


@pytest.mark.parametrize("return_sequences,bidirectional,split_rows,rows", [
    (False, False, False, 16), (True, False, False, 16), (False, True, False, 16), (True, True, False, 16),
    # the batch run in groups of rows: even, odd, and one row (fewer rows than groups: one group)
    (False, False, True, 16), (True, False, True, 15), (True, True, True, 15), (False, False, True, 1)])
def test_outputs_and_gradients_are_keras_lstms(return_sequences, bidirectional, split_rows, rows):
    import tensorflow as tf

    reference, fused = _twin_models(return_sequences, bidirectional, split_rows=split_rows)
    x = tf.constant(np.random.default_rng(1).normal(0, 2, (rows, 9, 3)).astype("float32"))
    gradients = []
    for model in (reference, fused):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = tf.reduce_sum(tf.sin(out))
        gradients.append((out.numpy(), tape.gradient(loss, model.trainable_weights)))
    (out_ref, grads_ref), (out_fused, grads_fused) = gradients
    np.testing.assert_allclose(out_fused, out_ref, atol=2e-6)
    for g_fused, g_ref in zip(grads_fused, grads_ref):
        np.testing.assert_allclose(g_fused, g_ref, atol=2e-5, rtol=1e-5)


def test_cell_states_are_not_clipped():
    # the kernel can clip the cell state (at 3 in its first version); Keras never does
    import tensorflow as tf

    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 0.1, (1, 8)), rng.normal(0, 0.1, (2, 8)), np.full(8, 4.0)]  # gates open, g near 1
    states = []
    for layer_class in (keras.layers.LSTM, FusedLSTM):
        layer = layer_class(2, return_state=True)
        layer.build((None, 20, 1))
        layer.set_weights([w.astype("float32") for w in weights])
        states.append(layer(tf.ones((1, 20, 1)))[2].numpy())
    assert states[0].min() > 10
    np.testing.assert_allclose(states[1], states[0], rtol=1e-6)


def test_dropout_drops_the_same_inputs_as_keras():
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(2).normal(size=(16, 9, 3)).astype("float32"))
    outputs = []
    for model in _twin_models(False, False, dropout=0.5):
        keras.utils.set_random_seed(3)
        outputs.append((model(x, training=True).numpy(), model(x, training=False).numpy()))
    (train_ref, infer_ref), (train_fused, infer_fused) = outputs
    np.testing.assert_allclose(train_fused, train_ref, atol=2e-6)
    np.testing.assert_allclose(infer_fused, infer_ref, atol=2e-6)
    assert np.abs(train_ref - infer_ref).max() > 0.1  # dropout did act


def test_the_rows_are_split_in_two_groups_where_the_process_has_two_cores():
    import os

    assert row_groups() == (2 if len(os.sched_getaffinity(0)) >= 2 else 1)


@pytest.mark.parametrize("split_rows", [True, False])
def test_a_layer_that_splits_its_rows_runs_one_kernel_per_group(split_rows):
    import tensorflow as tf

    layer = FusedLSTM(4, split_rows=split_rows)
    layer.build((None, 5, 2))
    graph = tf.function(lambda x: layer(x)).get_concrete_function(tf.TensorSpec((None, 5, 2))).graph.as_graph_def()
    nodes = [*graph.node, *(node for function in graph.library.function for node in function.node_def)]
    kernels = sum(node.op == "BlockLSTM" for node in nodes)
    # split: one kernel per group, and one for a batch of fewer rows than groups
    assert kernels == (row_groups() + 1 if split_rows and row_groups() > 1 else 1)


def test_only_a_lone_lstm_splits_its_rows():
    def lstms(**shape):
        network = build_network(NetworkSpec(lookback=12, horizon=3, n_features=2, units=4, **shape))
        layers = [getattr(layer, "forward_layer", layer) for layer in network.layers]
        return [layer for layer in layers if isinstance(layer, FusedLSTM)]

    assert [layer.split_rows for layer in lstms(layers=2)] == [True, True]
    assert [layer.split_rows for layer in lstms(bidirectional=True)] == [False]
    assert [layer.split_rows for layer in lstms(ensemble=2)] == [False, False]


@pytest.mark.parametrize("bidirectional", [True, False])
def test_a_network_with_the_kernel_trains_the_same_twice_and_loads_in_safe_mode(tmp_path, bidirectional):
    spec = NetworkSpec(lookback=12, horizon=3, n_features=2, units=4, bidirectional=bidirectional)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12, 2)).astype("float32")
    y = rng.normal(size=(64, 3)).astype("float32")
    trained = []
    for _ in range(2):
        seed_everything(0)
        network = build_network(spec, seed=0)
        network.compile(optimizer="adam", loss="mse", jit_compile=False)
        network.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
        trained.append(network)
    lstm = trained[0].get_layer("bidirectional_1").forward_layer if bidirectional else trained[0].get_layer("lstm_1")
    assert isinstance(lstm, FusedLSTM) and lstm.split_rows is not bidirectional
    for a, b in zip(trained[0].get_weights(), trained[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    path = tmp_path / "net.keras"
    trained[0].save(path)
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    loaded_lstm = loaded.get_layer("bidirectional_1").forward_layer if bidirectional else loaded.get_layer("lstm_1")
    assert loaded_lstm.split_rows is not bidirectional
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), trained[0].predict(x, verbose=0))
