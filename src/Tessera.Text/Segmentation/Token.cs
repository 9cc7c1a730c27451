namespace Tessera.Text.Segmentation;

/// <summary>A word as a range of the input: <c>text.Substring(Start, Length)</c>. Offsets are UTF-16 indices.</summary>
public readonly record struct Token(int Start, int Length)
{
    /// <summary>One past the last char.</summary>
    public int End => Start + Length;

    /// <summary>The word's text within <paramref name="text"/>.</summary>
    public ReadOnlySpan<char> Slice(ReadOnlySpan<char> text) => text.Slice(Start, Length);

    /// <summary>The word's text as a new string.</summary>
    public string ToString(string text) => text.Substring(Start, Length);
}

/// <summary>How <see cref="JiebaSegmenter"/> cuts text (jieba's cut / cut_all / cut_for_search).</summary>
public enum SegmentMode
{
    /// <summary>The most probable route through the dictionary DAG (jieba.cut).</summary>
    Accurate,
    /// <summary>Every dictionary word found in the text (jieba.cut(cut_all=True)).</summary>
    Full,
    /// <summary>Accurate, plus the dictionary 2- and 3-grams inside long words (jieba.cut_for_search).</summary>
    Search,
}
