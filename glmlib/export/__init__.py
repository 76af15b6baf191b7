"""Export fitted models for inference outside Python: ONNX graphs.

>>> from glmlib.export import to_onnx, onnx_feed  # doctest: +SKIP
>>> session = onnxruntime.InferenceSession(to_onnx(model).SerializeToString())  # doctest: +SKIP
>>> mu, eta = session.run(None, onnx_feed(model, X))  # doctest: +SKIP

Needs the ``onnx`` extra (``pip install 'glmlib[onnx]'``: onnx, and
onnxruntime to run the graphs); ``import glmlib`` works without it.

Public API
----------
to_onnx
    A fitted :class:`glmlib.GLM` or :class:`glmlib.GLMCV` (any family and
    link, numeric or categorical DataFrame input, optional offset) as an
    ``onnx.ModelProto`` whose outputs are the mean and the linear predictor.
onnx_feed
    The input dict for ONNX Runtime from what ``model.predict`` takes.

Modules
-------
``_onnx`` the two functions and one exporter per estimator class;
``_linear`` the linear predictor's inputs, nodes and feed; ``_links`` each
inverse link in ONNX operators; ``_graph`` the graph builder (the only
module that makes ONNX messages); ``_requires`` the lazy import of onnx.
"""

from ._onnx import onnx_feed, to_onnx

__all__ = ["onnx_feed", "to_onnx"]
