"""Eight-lane float32 / int32 vectors for numba kernels (AVX2), as numba types and intrinsics.

numba has no SIMD types, and LLVM does not turn the packed N:M product into the instruction it
needs (`vpermps`: pick 8 of 8 floats by 8 lane indices in one cycle). These intrinsics give a
numba kernel `<8 x float>` / `<8 x i32>` values that live in registers (they are numba types
with a vector data model, so loop-carried accumulators become vector phis, not 8 scalars).

Only `vperm` is x86-specific (`llvm.x86.avx2.permps`); `HAS_AVX2` says whether the host
can run it. Callers keep a portable kernel for other CPUs.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

_I32 = ir.IntType(32)
_VF = ir.VectorType(ir.FloatType(), 8)
_VI = ir.VectorType(_I32, 8)


def _host_has_avx2() -> bool:
    import llvmlite.binding as llvm
    from numba.core import config

    if config.CPU_NAME not in (None, "host"):  # numba told to target another CPU
        return False
    try:
        feats = llvm.get_host_cpu_features()
    except RuntimeError:
        return False
    return bool(feats.get("avx2")) and bool(feats.get("fma"))


HAS_AVX2 = _host_has_avx2()


class Vec8F(types.Type):
    """Eight float32 lanes (`<8 x float>`)."""

    def __init__(self):
        super().__init__(name="vec8f")


class Vec8I(types.Type):
    """Eight int32 lanes (`<8 x i32>`)."""

    def __init__(self):
        super().__init__(name="vec8i")


vec8f, vec8i = Vec8F(), Vec8I()


@register_model(Vec8F)
class _Vec8FModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VF)


@register_model(Vec8I)
class _Vec8IModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VI)


def _ptr(context, builder, aryty, ary, i):
    """Pointer to element i of a C-contiguous 1-D array (no bounds check: callers pad)."""
    a = context.make_array(aryty)(context, builder, ary)
    return builder.gep(a.data, [i])


def _splat(builder, scalar, vty):
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(_VI, [0] * 8))


@intrinsic
def vzero(typingctx):
    """All-zero vec8f."""
    def codegen(context, builder, sig, args):
        return ir.Constant(_VF, [0.0] * 8)
    return vec8f(), codegen


@intrinsic
def vload(typingctx, arr, i):
    """arr[i:i+8] as vec8f; arr float32, or uint16 holding bfloat16 (widened to float32)."""
    if not isinstance(arr, types.Array) or arr.dtype not in (types.float32, types.uint16):
        return None

    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], args[1])
        if sig.args[0].dtype == types.float32:
            return builder.load(builder.bitcast(p, _VF.as_pointer()), align=4)
        v16 = ir.VectorType(ir.IntType(16), 8)
        h = builder.load(builder.bitcast(p, v16.as_pointer()), align=2)
        w = builder.shl(builder.zext(h, _VI), ir.Constant(_VI, [16] * 8))  # bf16 = top half
        return builder.bitcast(w, _VF)
    return vec8f(arr, i), codegen


@intrinsic
def vload4x2(typingctx, arr, i):
    """arr[i:i+4] in both halves of a vec8f (a lane index then only needs its low 2 bits)."""
    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], args[1])
        v4 = ir.VectorType(ir.FloatType(), 4)
        v = builder.load(builder.bitcast(p, v4.as_pointer()), align=4)
        return builder.shuffle_vector(v, v, ir.Constant(_VI, [0, 1, 2, 3, 0, 1, 2, 3]))
    return vec8f(arr, i), codegen


@intrinsic
def vstore(typingctx, arr, i, v):
    """arr[i:i+8] = v (float32 array)."""
    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], args[1])
        builder.store(args[2], builder.bitcast(p, _VF.as_pointer()), align=4)
        return context.get_dummy_value()
    return types.none(arr, i, v), codegen


@intrinsic
def vbits(typingctx, arr, i, bits):
    """Lane r = (little-endian uint32 at byte i of uint8 arr) >> (r * bits); bits <= 4.

    Upper bits are left in place: `vperm` reads only the low 3 bits of a lane.
    """
    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], args[1])
        w = builder.load(builder.bitcast(p, _I32.as_pointer()), align=1)
        b = builder.trunc(args[2], _I32) if args[2].type.width > 32 else args[2]
        sh = builder.mul(_splat(builder, b, _VI), ir.Constant(_VI, list(range(8))))
        return builder.lshr(_splat(builder, w, _VI), sh)
    return vec8i(arr, i, bits), codegen


@intrinsic
def vbytes(typingctx, arr, i):
    """Lane r = arr[i + r] (uint8 arr), zero-extended."""
    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], args[1])
        v8 = ir.VectorType(ir.IntType(8), 8)
        return builder.zext(builder.load(builder.bitcast(p, v8.as_pointer()), align=1), _VI)
    return vec8i(arr, i), codegen


@intrinsic
def vperm(typingctx, table, idx):
    """Lane r = table[idx[r] & 7] (AVX2 `vpermps`)."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VF, [_VF, _VI]), "llvm.x86.avx2.permps")
        return builder.call(fn, [args[0], args[1]])
    return vec8f(table, idx), codegen


@intrinsic
def vselect_bit(typingctx, idx, bit, if_set, if_clear):
    """Lane r = if_set[r] where bit `bit` of idx[r] is 1, else if_clear[r]."""
    def codegen(context, builder, sig, args):
        b = builder.trunc(args[1], _I32) if args[1].type.width > 32 else args[1]
        mask = builder.and_(builder.lshr(args[0], _splat(builder, b, _VI)),
                            ir.Constant(_VI, [1] * 8))
        cond = builder.icmp_unsigned("!=", mask, ir.Constant(_VI, [0] * 8))
        return builder.select(cond, args[2], args[3])
    return vec8f(idx, bit, if_set, if_clear), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """a * b + c, lane-wise (fused)."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VF, [_VF] * 3), "llvm.fma.v8f32")
        return builder.call(fn, list(args))
    return vec8f(a, b, c), codegen


@intrinsic
def prefetch(typingctx, arr, i):
    """Hint the CPU to fetch the cache line holding arr[i] (read, keep in all levels)."""
    def codegen(context, builder, sig, args):
        p = builder.bitcast(_ptr(context, builder, sig.args[0], args[0], args[1]),
                            ir.IntType(8).as_pointer())
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [p.type, _I32, _I32, _I32]),
            "llvm.prefetch.p0")
        builder.call(fn, [p, ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()
    return types.none(arr, i), codegen


@intrinsic
def vsplat(typingctx, x):
    """vec8f with every lane = float32 x."""
    def codegen(context, builder, sig, args):
        v = builder.fptrunc(args[0], ir.FloatType()) if args[0].type != ir.FloatType() else args[0]
        return _splat(builder, v, _VF)
    return vec8f(x), codegen


@intrinsic
def vsum(typingctx, v):
    """Sum of the eight lanes (float32)."""
    def codegen(context, builder, sig, args):
        s = builder.extract_element(args[0], ir.Constant(_I32, 0))
        for i in range(1, 8):
            s = builder.fadd(s, builder.extract_element(args[0], ir.Constant(_I32, i)))
        return s
    return types.float32(v), codegen
