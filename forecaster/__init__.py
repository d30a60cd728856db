"""forecaster: forecasts and anomaly flags for CSV time series with recurrent neural networks."""

__version__ = "0.1.0"
