"""Designs: the one place that touches X, for every way X can be stored.

Internal: nothing here is public API, except what :mod:`glmlib` re-exports
(``glmlib.disk_cache``, ``glmlib.open_disk_cache``,
``glmlib.MixedPrecisionWarning``). Estimators import these modules directly;
this package imports nothing on its own.

Modules:

``protocol``
    :class:`~glmlib.design.protocol.Design`, the interface the solver
    (:mod:`glmlib.solver`) asks of X, and the
    :class:`~glmlib.design.protocol.AllRowsHere` mixin.
``make``
    :func:`~glmlib.design.make.make_design`: the design for validated X
    (dense, sparse or categorical) on the fit's backend.
``dense``
    Dense X on any array-API backend, and its column-subset and row-sample
    views; the helpers the other in-memory designs share.
``sparse``
    scipy.sparse X on the host, torch sparse X on PyTorch.
``categorical``
    pandas categorical columns without the one-hot matrix, and the fitted
    :class:`~glmlib.design.categorical.CategoricalLayout`.
``discrete``
    X as a few small bases and one integer index per row (``GAM(discrete=True)``).
``streamed``
    Host X passed to the device in row chunks (``GLM(stream_chunk_rows=k)``).
``dask``
    Dask collections: out-of-core and cluster fits (``disk_cache``).
``parquet``
    Parquet row groups read by pyarrow column by column (``parquet_matrix``),
    and the Dask design's products over them.
``mixed``
    Gram matrices from a bfloat16 copy of X (``GLM(precision="mixed")``).

Designs across processes live in the public :mod:`glmlib.distributed`
(:class:`~glmlib.distributed.ShardedDesign`).

Adding a design
---------------
Adding a kind of data (out-of-core partitions, reduced-precision or streamed
X) means writing one class with the methods of
:class:`~glmlib.design.protocol.Design`, in a new module here; the solver is
unchanged. A design that holds every row inherits
:class:`~glmlib.design.protocol.AllRowsHere` (its reductions over rows are the
identity); one that holds some of the rows implements ``reduce`` (and its
products over rows) as a combination over the processes that hold the others,
as :class:`~glmlib.distributed.ShardedDesign` does. A design whose passes over
X are expensive may also define ``rmatvec_gram(v, d, intercept) -> (X.T @ v,
gram(d, intercept))``, both from one pass; the Newton solver then asks for the
gradient's product and the Gram matrix together
(:class:`~glmlib.design.dask.DaskDesign` does). The estimator chooses the new
design where it builds one (``glmlib.glm``, or
:func:`~glmlib.design.make.make_design` for a new kind of validated X), and
its tests go in ``tests/design/`` beside the others, which check each
design's products against the dense design's.
"""
