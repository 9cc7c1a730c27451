using Tessera.Text.Segmentation;

namespace Tessera.Text.Tokenization;

/// <summary><see cref="ITokenizer"/> over <see cref="JiebaSegmenter"/>: words, no vocabulary.</summary>
public sealed class JiebaTokenizer : ITokenizer
{
    private readonly JiebaSegmenter _seg;
    private readonly SegmentMode _mode;
    private readonly bool _hmm;

    /// <summary>Wraps a segmenter (the shared default one when null) in a mode.</summary>
    public JiebaTokenizer(JiebaSegmenter? segmenter = null, SegmentMode mode = SegmentMode.Accurate, bool hmm = true)
    {
        _seg = segmenter ?? JiebaSegmenter.Shared;
        _mode = mode;
        _hmm = hmm;
    }

    public string Name => $"jieba ({_mode.ToString().ToLowerInvariant()}{(_hmm ? ", HMM" : "")})";

    public bool HasVocabulary => false;

    public IReadOnlyList<TextToken> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<Token>();
        _seg.Cut(text, tokens, _mode, _hmm);
        var result = new List<TextToken>(tokens.Count);
        foreach (var t in tokens)
            if (t.Length > 0) result.Add(new TextToken(t.ToString(text), t.Start, t.Length));
        return result;
    }

    public IReadOnlyList<int> EncodeToIds(string text) =>
        throw new NotSupportedException("the jieba segmenter has no vocabulary ids; use Tokenize, or a hashed feature space");

    public string Decode(IEnumerable<int> ids) =>
        throw new NotSupportedException("the jieba segmenter has no vocabulary ids");
}
