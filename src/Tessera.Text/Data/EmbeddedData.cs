using System.IO.Compression;

namespace Tessera.Text.Data;

/// <summary>The jieba 0.42 data files embedded in this assembly (MIT; see LICENSE-jieba.txt beside it).</summary>
public static class EmbeddedData
{
    public const string DictionaryName = "dict.bin.gz";
    public const string IdfName = "idf.txt.gz";
    public const string FinalSegName = "finalseg.tsv.gz";
    public const string PosSegName = "posseg.tsv.gz";

    /// <summary>Opens an embedded data file, decompressed.</summary>
    public static Stream Open(string name)
    {
        var raw = typeof(EmbeddedData).Assembly.GetManifestResourceStream("Tessera.Text.jieba." + name)
            ?? throw new FileNotFoundException($"embedded data file '{name}' is missing from Tessera.Text.dll");
        return new GZipStream(raw, CompressionMode.Decompress);
    }

    /// <summary>Reads a whole embedded data file into memory, decompressed.</summary>
    public static byte[] ReadAllBytes(string name)
    {
        using var s = Open(name);
        var ms = new MemoryStream(8 << 20);
        s.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>Opens a data file from disk, gunzipping it when its name ends in .gz.</summary>
    public static Stream OpenFile(string path)
    {
        Stream s = File.OpenRead(path);
        return path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(s, CompressionMode.Decompress) : s;
    }
}
