using System.Diagnostics;
using Tessera.Onnx;

namespace Tessera.Onnx.Tests;

/// <summary>Corrupted, truncated and non-ONNX bytes must fail with a clear ONNX error: no crash, hang or huge allocation.</summary>
public class OnnxFormatFuzzTests
{
    private static readonly string[] Models =
    [
        Path.Combine(OnnxConformance.DataRoot, "pytorch-converted", "test_Conv2d", "model.onnx"),
        Path.Combine(OnnxConformance.DataRoot, "node", "test_reshape_reordered_all_dims", "model.onnx"),
        Path.Combine(OnnxConformance.DataRoot, "node", "test_resize_upsample_scales_linear", "model.onnx"),
    ];

    [Fact]
    public void Mutated_model_bytes_load_or_fail_with_an_onnx_error()
    {
        var rng = new Random(1234);
        var clock = Stopwatch.StartNew();
        int loaded = 0, rejected = 0;
        foreach (var path in Models)
        {
            Assert.True(File.Exists(path), $"{path} is missing: install libonnx-testdata.");
            var original = File.ReadAllBytes(path);
            for (int iteration = 0; iteration < 1200; iteration++)
            {
                var bytes = Mutate(original, rng);
                try
                {
                    using var model = OnnxModel.Load(bytes);
                    loaded++;
                }
                catch (OnnxFormatException) { rejected++; }
                catch (OnnxUnsupportedException) { rejected++; }
                catch (Exception e)
                {
                    Assert.Fail($"iteration {iteration} of {Path.GetFileName(Path.GetDirectoryName(path))}: {e.GetType().Name} escaped: {e.Message}");
                }
            }
        }
        Assert.True(rejected > 0 && loaded > 0, $"{loaded} loaded, {rejected} rejected");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"fuzzing took {clock.Elapsed}");
        Assert.True(GC.GetTotalMemory(true) < 1L << 30, "the fuzz run left more than 1 GiB allocated");
    }

    private static byte[] Mutate(byte[] original, Random rng)
    {
        var b = (byte[])original.Clone();
        switch (rng.Next(4))
        {
            case 0: return b[..rng.Next(b.Length)];                               // truncation
            case 1:
                for (int i = rng.Next(1, 8); i > 0; i--) b[rng.Next(b.Length)] = (byte)rng.Next(256);   // random bytes
                return b;
            case 2:
                for (int i = rng.Next(1, 4); i > 0; i--) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8)); // bit flips
                return b;
            default:
                int at = rng.Next(b.Length);                                         // a varint field set to a huge value
                return [.. b[..at], 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, .. b[at..]];
        }
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A })]
    [InlineData(new byte[] { 0x08, 0x07, 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07 })]
    public void Non_onnx_bytes_raise_an_onnx_format_error(byte[] bytes)
    {
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(bytes));
        Assert.Contains("ONNX", e.Message);
    }

    [Fact]
    public void A_text_file_is_not_an_onnx_model()
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, "hello, this is not a model\n");
        try { Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path)); }
        finally { File.Delete(path); }
    }
}
