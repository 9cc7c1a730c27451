using Google.Protobuf;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx;

/// <summary>Reads ONNX files into protobuf messages, turning every kind of malformed input into an <see cref="OnnxFormatException"/>.</summary>
public static class OnnxModelReader
{
    /// <summary>The largest file read whole into memory (protobuf caps messages at 2 GiB anyway).</summary>
    public const long MaxFileBytes = int.MaxValue - 64;

    internal static byte[] ReadAllBytesChecked(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX file '{path}' does not exist.", path);
        var length = new FileInfo(path).Length;
        if (length > MaxFileBytes) throw new OnnxFormatException($"{path} is {length} bytes; ONNX protobuf files are limited to 2 GiB (use external data).");
        return File.ReadAllBytes(path);
    }

    /// <summary>Parses and checks a model file.</summary>
    public static ModelProto ReadModel(string path) => ParseModel(ReadAllBytesChecked(path), path);

    /// <summary>Parses and checks model bytes; <paramref name="what"/> names the source in errors.</summary>
    public static ModelProto ParseModel(byte[] bytes, string what = "model")
    {
        ModelProto model;
        try
        {
            // Parsing from a byte array bounds every length prefix by the bytes that remain, so a corrupted
            // length fails as truncation instead of allocating; the recursion limit bounds nested graphs.
            var input = new CodedInputStream(bytes);
            model = ModelProto.Parser.ParseFrom(input);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException($"{what} is not a valid ONNX model (truncated or corrupted protobuf): {e.Message}", e);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException or IndexOutOfRangeException)
        {
            throw new OnnxFormatException($"{what} is not a valid ONNX model: {e.Message}", e);
        }
        if (model.Graph is null)
            throw new OnnxFormatException($"{what} is not an ONNX model: it has no graph (ir_version {model.IrVersion}).");
        if (model.IrVersion < 1 || model.IrVersion > 100)
            throw new OnnxFormatException($"{what} is not an ONNX model: ir_version {model.IrVersion} is out of range.");
        return model;
    }
}
