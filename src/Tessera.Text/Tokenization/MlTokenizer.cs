using Microsoft.ML.Tokenizers;

namespace Tessera.Text.Tokenization;

/// <summary>
/// <see cref="ITokenizer"/> over a Microsoft.ML.Tokenizers tokenizer (BPE, WordPiece, Tiktoken, ...). Offsets refer to
/// the input text when the tokenizer does not normalize it, otherwise to its normalized form.
/// </summary>
public sealed class MlTokenizer : ITokenizer
{
    private readonly Tokenizer _inner;

    public MlTokenizer(Tokenizer inner, string name)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        Name = name;
    }

    /// <summary>The wrapped Microsoft.ML.Tokenizers tokenizer.</summary>
    public Tokenizer Inner => _inner;

    public string Name { get; }

    public bool HasVocabulary => true;

    /// <summary>A Tiktoken tokenizer for an OpenAI model name (e.g. "gpt-4"); its data package must be referenced
    /// (Microsoft.ML.Tokenizers.Data.Cl100kBase for gpt-4 / gpt-3.5).</summary>
    public static MlTokenizer Tiktoken(string modelName) => new(TiktokenTokenizer.CreateForModel(modelName), "tiktoken " + modelName);

    /// <summary>A WordPiece tokenizer from a vocab.txt (one token per line, BERT style).</summary>
    public static MlTokenizer WordPiece(string vocabPath) => new(WordPieceTokenizer.Create(vocabPath), "wordpiece " + Path.GetFileName(vocabPath));

    /// <summary>A BPE tokenizer from vocab.json and merges.txt.</summary>
    public static MlTokenizer Bpe(string vocabJsonPath, string mergesPath) =>
        new(BpeTokenizer.Create(vocabJsonPath, mergesPath), "bpe " + Path.GetFileName(vocabJsonPath));

    public IReadOnlyList<TextToken> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = _inner.EncodeToTokens(text, out string? normalized);
        int length = (normalized ?? text).Length;
        var result = new List<TextToken>(tokens.Count);
        foreach (var t in tokens)
        {
            var (start, len) = t.Offset.GetOffsetAndLength(length);
            result.Add(new TextToken(t.Value, start, len, t.Id));
        }
        return result;
    }

    public IReadOnlyList<int> EncodeToIds(string text) => _inner.EncodeToIds(text);

    public string Decode(IEnumerable<int> ids) => _inner.Decode(ids);
}
