namespace Tessera.Kernels;

/// <summary>Dtype conversion between any two tensors of the same shape.</summary>
public static class CastKernel
{
    public static void Run(Tensor x, Tensor y)
    {
        switch (x.DType)
        {
            case DType.Float32: From<float>(x, y); break;
            case DType.Float64: From<double>(x, y); break;
            case DType.Int32: From<int>(x, y); break;
            case DType.Int64: From<long>(x, y); break;
            case DType.UInt8: From<byte>(x, y); break;
            case DType.Bool: From<bool>(x, y); break;
            case DType.Float16: From<Half>(x, y); break;
            case DType.Int8: From<sbyte>(x, y); break;
            case DType.Int16: From<short>(x, y); break;
            case DType.UInt16: From<ushort>(x, y); break;
            case DType.UInt32: From<uint>(x, y); break;
            case DType.UInt64: From<ulong>(x, y); break;
            case DType.BFloat16: From<BFloat16>(x, y); break;
            default: throw new DTypeMismatchException("Cast", $"casting from {x.DType.Name()} is not supported");
        }
    }

    private static void From<TFrom>(Tensor x, Tensor y) where TFrom : unmanaged
    {
        if (x.DType == DType.Float32 && y.DType == DType.Float64 && x.IsContiguous)
        {
            System.Numerics.Tensors.TensorPrimitives.ConvertChecked<float, double>(x.AsSpan<float>(), y.AsSpan<double>());
            return;
        }
        if (x.DType == DType.Float64 && y.DType == DType.Float32 && x.IsContiguous)
        {
            System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<double, float>(x.AsSpan<double>(), y.AsSpan<float>());
            return;
        }
        switch (y.DType)
        {
            case DType.Float32: ElementwiseKernels.Cast<TFrom, float>(x, y); break;
            case DType.Float64: ElementwiseKernels.Cast<TFrom, double>(x, y); break;
            case DType.Int32: ElementwiseKernels.Cast<TFrom, int>(x, y); break;
            case DType.Int64: ElementwiseKernels.Cast<TFrom, long>(x, y); break;
            case DType.UInt8: ElementwiseKernels.Cast<TFrom, byte>(x, y); break;
            case DType.Bool: ElementwiseKernels.Cast<TFrom, bool>(x, y); break;
            case DType.Float16: ElementwiseKernels.Cast<TFrom, Half>(x, y); break;
            case DType.Int8: ElementwiseKernels.Cast<TFrom, sbyte>(x, y); break;
            case DType.Int16: ElementwiseKernels.Cast<TFrom, short>(x, y); break;
            case DType.UInt16: ElementwiseKernels.Cast<TFrom, ushort>(x, y); break;
            case DType.UInt32: ElementwiseKernels.Cast<TFrom, uint>(x, y); break;
            case DType.UInt64: ElementwiseKernels.Cast<TFrom, ulong>(x, y); break;
            case DType.BFloat16: ElementwiseKernels.Cast<TFrom, BFloat16>(x, y); break;
            default: throw new DTypeMismatchException("Cast", $"casting to {y.DType.Name()} is not supported");
        }
    }
}
