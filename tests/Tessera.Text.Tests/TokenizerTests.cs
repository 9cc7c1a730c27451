using Tessera.Text.Tokenization;

namespace Tessera.Text.Tests;

public class TokenizerTests
{
    [Fact]
    public void Jieba_behind_ITokenizer_gives_words_with_offsets_and_no_ids()
    {
        ITokenizer t = new JiebaTokenizer(JiebaFixtures.Segmenter);
        var tokens = t.Tokenize("我来到北京清华大学");
        Assert.Equal(["我", "来到", "北京", "清华大学"], tokens.Select(x => x.Value));
        Assert.Equal([0, 1, 3, 5], tokens.Select(x => x.Start));
        Assert.False(t.HasVocabulary);
        Assert.Throws<NotSupportedException>(() => t.EncodeToIds("x"));
    }

    [Fact]
    public void Tiktoken_behind_ITokenizer_round_trips_and_gives_offsets()
    {
        ITokenizer t = MlTokenizer.Tiktoken("gpt-4");
        const string text = "Hello, world! 你好世界";
        var ids = t.EncodeToIds(text);
        Assert.Equal(text, t.Decode(ids));
        Assert.Equal([9906, 11, 1917, 0], ids.Take(4));   // cl100k_base ids of "Hello", ",", " world", "!"
        var tokens = t.Tokenize(text);
        Assert.Equal(ids, tokens.Select(x => x.Id));
        Assert.Equal("Hello", text.Substring(tokens[0].Start, tokens[0].Length));
    }

    [Fact]
    public void WordPiece_behind_ITokenizer_splits_into_subwords()
    {
        string vocab = Path.Combine(Path.GetTempPath(), $"tessera-wp-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(vocab, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello", "!"]);
        try
        {
            // WordPiece pre-tokenizes on whitespace only (no BERT punctuation split), so "!" stands apart.
            ITokenizer t = MlTokenizer.WordPiece(vocab);
            var tokens = t.Tokenize("unaffable hello !");
            Assert.Equal(["un", "##aff", "##able", "hello", "!"], tokens.Select(x => x.Value));
            Assert.Equal([5, 6, 7, 8, 9], t.EncodeToIds("unaffable hello !"));
        }
        finally { File.Delete(vocab); }
    }

    [Fact]
    public void Bpe_behind_ITokenizer_applies_merges()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"tessera-bpe-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "vocab.json"), """{"l":0,"o":1,"w":2,"e":3,"r":4,"lo":5,"low":6,"er":7,"lower":8}""");
            File.WriteAllLines(Path.Combine(dir, "merges.txt"), ["#version: 0.2", "l o", "lo w", "e r", "low er"]);
            ITokenizer t = MlTokenizer.Bpe(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"));
            Assert.Equal(["lower"], t.Tokenize("lower").Select(x => x.Value));
            Assert.Equal([6], t.EncodeToIds("low"));
        }
        finally { Directory.Delete(dir, true); }
    }
}
