using System.Text;

namespace Tessera.Text;

/// <summary>Reading UTF-8 text as Python's text mode does, so line-by-line tools agree with jieba's.</summary>
public static class TextLines
{
    /// <summary>
    /// A reader whose <c>ReadLine</c> ends lines at \n, \r or \r\n (Python's universal newlines) and turns invalid
    /// UTF-8 into U+FFFD instead of throwing. A byte-order mark is kept as U+FEFF, as Python's "utf-8" keeps it.
    /// </summary>
    public static StreamReader Open(Stream stream) =>
        new(stream, new UTF8Encoding(false, false), detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);

    /// <summary>Decodes UTF-8, replacing invalid sequences with U+FFFD.</summary>
    public static string Decode(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);
}
