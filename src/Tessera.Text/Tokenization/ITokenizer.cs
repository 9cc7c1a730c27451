namespace Tessera.Text.Tokenization;

/// <summary>A token: its text, where it sits in the input (UTF-16 offsets), and its vocabulary id (-1 when the tokenizer has no vocabulary).</summary>
public readonly record struct TextToken(string Value, int Start, int Length, int Id = -1)
{
    public int End => Start + Length;
}

/// <summary>
/// One surface over word segmenters and subword tokenizers: Tessera's jieba segmenter
/// (<see cref="JiebaTokenizer"/>) and Microsoft.ML.Tokenizers' BPE, WordPiece and Tiktoken (<see cref="MlTokenizer"/>).
/// </summary>
/// <example><code>
/// ITokenizer zh = new JiebaTokenizer();
/// ITokenizer gpt = MlTokenizer.Tiktoken("gpt-4");
/// foreach (var t in zh.Tokenize("我来到北京清华大学")) Console.WriteLine(t.Value);
/// </code></example>
public interface ITokenizer
{
    /// <summary>A short description, e.g. "jieba (accurate, HMM)" or "tiktoken gpt-4".</summary>
    string Name { get; }

    /// <summary>True when tokens carry vocabulary ids and <see cref="Decode"/> works.</summary>
    bool HasVocabulary { get; }

    /// <summary>Cuts <paramref name="text"/> into tokens.</summary>
    IReadOnlyList<TextToken> Tokenize(string text);

    /// <summary>The tokens' vocabulary ids.</summary>
    /// <exception cref="NotSupportedException">The tokenizer has no vocabulary.</exception>
    IReadOnlyList<int> EncodeToIds(string text);

    /// <summary>Text for a sequence of ids.</summary>
    /// <exception cref="NotSupportedException">The tokenizer has no vocabulary.</exception>
    string Decode(IEnumerable<int> ids);
}
