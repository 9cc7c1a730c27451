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
        var idf = new Dictionary<string, double>(400_000);
        using var reader = new StreamReader(stream, new UTF8Encoding(false, true));
        int lineNo = 0;
        try
        {
            while (reader.ReadLine() is { } line)
            {
                lineNo++;
                var t = line.Trim();
                int sp = t.IndexOf(' ');
                if (sp <= 0 || t.IndexOf(' ', sp + 1) >= 0 ||
                    !double.TryParse(t.AsSpan(sp + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    throw new DictionaryFormatException(sourceName, lineNo, line, "expected 'word idf'");
                idf[t[..sp]] = v;
            }
        }
        catch (DecoderFallbackException)
        {
            throw new DictionaryFormatException(sourceName, lineNo + 1, "", "not valid UTF-8");
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
