"""Writes src/inference/graphs/matmul.onnx: C = A · B for float32 A [n, d], B [d, k] (dynamic sizes).

ONNX Runtime's MatMul kernels are far faster than JavaScript loops, so the similarity matrices of
mining and scoring go through this one-node graph. Offline tooling: python3 tools/make-matmul-graph.py
"""
import os
import onnx
from onnx import TensorProto, helper

a = helper.make_tensor_value_info('a', TensorProto.FLOAT, ['n', 'd'])
b = helper.make_tensor_value_info('b', TensorProto.FLOAT, ['d', 'k'])
c = helper.make_tensor_value_info('c', TensorProto.FLOAT, ['n', 'k'])
# B comes pre-transposed: a Gemm with transB=1 re-packs B on every run, which costs more than the
# product for small batches.
graph = helper.make_graph([helper.make_node('MatMul', ['a', 'b'], ['c'])], 'similarities', [a, b], [c])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='neglabel')
model.ir_version = 8
onnx.checker.check_model(model)
out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'src/inference/graphs/matmul.onnx')
onnx.save(model, out)
print(out)
