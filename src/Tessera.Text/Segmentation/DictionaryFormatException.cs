namespace Tessera.Text.Segmentation;

/// <summary>A dictionary or model file has a line that cannot be read; the message names the file and the line.</summary>
public sealed class DictionaryFormatException : FormatException
{
    public DictionaryFormatException(string source, int lineNumber, string line, string reason)
        : base($"invalid dictionary entry in {source} at line {lineNumber}: {Shorten(line)} ({reason})")
    {
        SourceName = source;
        LineNumber = lineNumber;
        Line = line;
    }

    /// <summary>The file (or resource) name.</summary>
    public string SourceName { get; }

    /// <summary>1-based line number of the bad entry.</summary>
    public int LineNumber { get; }

    /// <summary>The offending line (invalid UTF-8 shown as U+FFFD).</summary>
    public string Line { get; }

    private static string Shorten(string line) => line.Length <= 120 ? line : line[..120] + "…";
}
