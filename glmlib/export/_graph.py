"""A small ONNX graph builder: unique value names, typed constants, nodes, the model.

Exporters (``_glm.py``) describe a computation as calls to :meth:`Graph.op`
and never touch protobuf messages; this module is the only one that builds
them. It imports ``onnx`` and is imported only once an export is asked for
(``glmlib.export`` itself loads without the package).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._requires import onnx

__all__ = ["IR_VERSION", "OPSET", "Graph"]

#: ONNX operator set of every exported graph: opset 17 (ONNX 1.12, 2022) has
#: every operator used here, and any ONNX Runtime from 1.12 on runs it.
OPSET = 17
#: The IR version that goes with opset 17 (newer runtimes read older IR versions).
IR_VERSION = 8


def elem_type(dtype: Any) -> int:
    """ONNX tensor element type of a NumPy dtype."""
    return int(onnx().helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


class Graph:
    """An ONNX graph under construction.

    Values are referred to by name. Names of inputs and outputs are chosen by
    the caller (and must be unique); every other value gets a fresh name from
    a hint, so that no intermediate takes an input's or output's name.

    Parameters
    ----------
    name : str
        The graph's name.
    outputs : sequence of str
        Names of the outputs to come, kept free until :meth:`add_output`.
    """

    def __init__(self, name: str, outputs: tuple[str, ...] = ()) -> None:
        self.name = name
        self._nodes: list[Any] = []
        self._inputs: list[Any] = []
        self._outputs: list[Any] = []
        self._initializers: list[Any] = []
        self._used: set[str] = set()
        self._reserved: set[str] = set(outputs)
        self._constants: dict[tuple[str, bytes], str] = {}

    # ------------------------------------------------------------------ names
    def _claim(self, name: str, output: bool = False) -> str:
        if name in self._used or (name in self._reserved and not output):
            raise ValueError(f"the ONNX graph already has a value named {name!r}")
        self._used.add(name)
        return name

    def fresh(self, hint: str) -> str:
        """A new value name built from ``hint`` (``hint``, ``hint_1``, ...)."""
        name, k = hint, 0
        while name in self._used or name in self._reserved:
            k += 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    # ------------------------------------------------------------ the graph
    def add_input(self, name: str, dtype: Any, shape: list[Any], doc: str = "") -> str:
        """Declare a graph input of ``dtype`` and ``shape`` (strings are symbolic sizes)."""
        info = onnx().helper.make_tensor_value_info(self._claim(name), elem_type(dtype), shape)
        info.doc_string = doc
        self._inputs.append(info)
        return name

    def add_output(self, value: str, name: str, dtype: Any, shape: list[Any], doc: str = "") -> str:
        """Expose ``value`` as the graph output ``name`` (through an Identity node)."""
        self._nodes.append(
            onnx().helper.make_node("Identity", [value], [self._claim(name, output=True)])
        )
        info = onnx().helper.make_tensor_value_info(name, elem_type(dtype), shape)
        info.doc_string = doc
        self._outputs.append(info)
        return name

    def constant(self, value: Any, dtype: Any, hint: str = "const") -> str:
        """An initializer holding ``value`` as ``dtype`` (identical constants are shared)."""
        array = np.ascontiguousarray(np.asarray(value, dtype=np.dtype(dtype)))
        key = (f"{array.dtype.str}{array.shape}", array.tobytes())
        if key not in self._constants:
            name = self.fresh(hint)
            self._initializers.append(onnx().numpy_helper.from_array(array, name))
            self._constants[key] = name
        return self._constants[key]

    def op(self, op_type: str, *inputs: str, hint: str | None = None, **attrs: Any) -> str:
        """Add a node with one output; returns the output's name."""
        out = self.fresh(hint or op_type.lower())
        self._nodes.append(onnx().helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def cast(self, value: str, dtype: Any, hint: str | None = None) -> str:
        """``value`` converted to ``dtype``."""
        return self.op("Cast", value, hint=hint or "cast", to=elem_type(dtype))

    def ops(self, op_type: str, *inputs: str, n_out: int, hint: str, **attrs: Any) -> list[str]:
        """Add a node with ``n_out`` outputs; returns their names."""
        outs = [self.fresh(f"{hint}_{k}") for k in range(n_out)]
        self._nodes.append(onnx().helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs

    def model(self, *, doc: str, producer: str, version: str, metadata: dict[str, str]) -> Any:
        """The finished ``onnx.ModelProto`` (opset :data:`OPSET`, IR :data:`IR_VERSION`)."""
        helper = onnx().helper
        graph = helper.make_graph(
            self._nodes,
            self.name,
            self._inputs,
            self._outputs,
            initializer=self._initializers,
            doc_string=doc,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name=producer,
            producer_version=version,
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        helper.set_model_props(model, metadata)
        return model
