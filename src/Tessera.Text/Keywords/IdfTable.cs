using System.Globalization;
using System.Text;
using Tessera.Text.Segmentation;

namespace Tessera.Text.Keywords;

/// <summary>Inverse document frequencies ("word idf" per line, jieba's idf.txt format) and their median.</summary>
public sealed class IdfTable
{
    private readonly Dictionary<string, double> _idf;

    private IdfTable(Dictionary<string, double> idf, double median)
    {
        _idf = idf;
        Median = median;
    }

    /// <summary>The median IDF, used for words not in the table (as jieba does).</summary>
    public double Median { get; }

    public int Count => _idf.Count;

    /// <summary>The IDF of <paramref name="word"/>, or <see cref="Median"/>.</summary>
    public double this[string word] => _idf.TryGetValue(word, out double v) ? v : Median;

    private static readonly Lazy<IdfTable> DefaultTable =
        new(() => Load(Data.EmbeddedData.Open(Data.EmbeddedData.IdfName), "idf.txt (embedded)"));

    /// <summary>jieba 0.42's idf.txt from the embedded data (loaded once, on first use).</summary>
    public static IdfTable Default => DefaultTable.Value;

    /// <summary>Reads an IDF file; a bad line raises <see cref="DictionaryFormatException"/> naming it.</summary>
    public static IdfTable Load(Stream stream, string sourceName)
    {
        var ms = new MemoryStream();
        stream.CopyTo(ms);
        string all;
        try { all = new UTF8Encoding(false, true).GetString(ms.GetBuffer(), 0, (int)ms.Length); }
        catch (DecoderFallbackException e)
        {
            int line = 1 + ms.GetBuffer().AsSpan(0, Math.Min(e.Index < 0 ? 0 : e.Index, (int)ms.Length)).Count((byte)'\n');
            throw new DictionaryFormatException(sourceName, line, "", "not valid UTF-8");
        }
        var idf = new Dictionary<string, double>(all.Length / 16);
        var lookup = idf.GetAlternateLookup<ReadOnlySpan<char>>();
        ReadOnlySpan<char> rest = all;
        int lineNo = 0;
        while (!rest.IsEmpty)
        {
            lineNo++;
            int nl = rest.IndexOf('\n');
            var line = nl < 0 ? rest : rest[..nl];
            rest = nl < 0 ? default : rest[(nl + 1)..];
            var t = line.Trim();
            if (t.IsEmpty && rest.IsEmpty) break;     // final newline
            int sp = t.IndexOf(' ');
            if (sp <= 0 || t[(sp + 1)..].Contains(' ') ||
                !double.TryParse(t[(sp + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                throw new DictionaryFormatException(sourceName, lineNo, line.ToString(), "expected 'word idf'");
            lookup[t[..sp]] = v;
        }
        var values = idf.Values.ToArray();
        Array.Sort(values);
        return new IdfTable(idf, values.Length == 0 ? 0 : values[values.Length / 2]);
    }

    /// <summary>Reads an IDF file from disk (gunzipped when it ends in .gz).</summary>
    public static IdfTable LoadFile(string path)
    {
        using var s = Data.EmbeddedData.OpenFile(path);
        return Load(s, path);
    }
}
