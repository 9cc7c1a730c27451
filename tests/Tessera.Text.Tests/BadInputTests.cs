using System.Text;
using Tessera.Text.Segmentation;

namespace Tessera.Text.Tests;

public class BadInputTests
{
    private static JiebaSegmenter Seg => JiebaFixtures.Segmenter;

    [Fact]
    public void Invalid_utf8_is_replaced_not_thrown()
    {
        byte[] bytes = [0xE4, 0xBD, 0xA0, 0xFF, 0xE5, 0xA5, 0xBD, 0xC3, 0x28, 0xE4, 0xB8];  // 你 <FF> 好 <C3 28> <E4 B8 truncated>
        var words = Seg.CutUtf8(bytes);
        Assert.Equal("你\uFFFD好\uFFFD(\uFFFD", string.Concat(words));
        Assert.Contains("\uFFFD", words);
    }

    [Fact]
    public void Line_reader_replaces_invalid_utf8_and_splits_like_python_text_mode()
    {
        var bytes = new byte[] { (byte)'a', 0xFF, (byte)'\r', (byte)'b', (byte)'\r', (byte)'\n', (byte)'c', (byte)'\n', (byte)'d' };
        using var reader = TextLines.Open(new MemoryStream(bytes));
        var lines = new List<string>();
        while (reader.ReadLine() is { } l) lines.Add(l);
        Assert.Equal(["a\uFFFD", "b", "c", "d"], lines);
    }

    [Theory]
    [InlineData(SegmentMode.Accurate, true)]
    [InlineData(SegmentMode.Accurate, false)]
    [InlineData(SegmentMode.Full, true)]
    [InlineData(SegmentMode.Search, true)]
    public void Empty_input_gives_no_words(SegmentMode mode, bool hmm)
    {
        Assert.Empty(Seg.Cut("", mode, hmm));
        Assert.Empty(Seg.CutUtf8([], mode, hmm));
    }

    [Fact]
    public void A_10_MB_line_without_newline_is_cut_whole_and_consistently()
    {
        const string sentence = "小明硕士毕业于中国科学院计算所，后在日本京都大学深造。";
        var one = Seg.Cut(sentence);
        int reps = 10_000_000 / Encoding.UTF8.GetByteCount(sentence) + 1;
        var big = new StringBuilder(sentence.Length * reps);
        for (int i = 0; i < reps; i++) big.Append(sentence);
        string text = big.ToString();
        Assert.True(Encoding.UTF8.GetByteCount(text) >= 10_000_000);

        using var reader = TextLines.Open(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        string line = reader.ReadLine()!;
        Assert.Null(reader.ReadLine());
        var tokens = new List<Token>();
        Seg.Cut(line, tokens);
        // "。" ends a block, so the long line cuts as the sentence repeated.
        Assert.Equal(one.Count * reps, tokens.Count);
        for (int i = 0; i < one.Count; i++) Assert.Equal(one[i], tokens[(reps - 1) * one.Count + i].ToString(line));
    }

    [Fact]
    public void A_single_block_of_a_million_han_chars_is_cut()
    {
        string text = string.Concat(Enumerable.Repeat("中华人民共和国万岁鹘鹙鹚", 100_000));
        var tokens = new List<Token>();
        Seg.Cut(text, tokens);
        Assert.Equal(text.Length, tokens.Sum(t => t.Length));
        Assert.Equal("中华人民共和国", tokens[0].ToString(text));
    }

    [Fact]
    public void Emoji_and_supplementary_chars_stay_whole()
    {
        var words = Seg.Cut("好😀👍🏽𠀀");
        Assert.Equal(["好", "😀", "👍", "🏽", "𠀀"], words);
    }

    [Fact]
    public void Mixed_scripts_and_full_width_digits_follow_jieba()
    {
        // Full-width letters/digits are outside jieba's re_han, so each is its own word (as jieba 0.42 does).
        Assert.Equal(["Ａ", "Ｂ", "１", "２", "个"], Seg.Cut("ＡＢ１２个"));
        // jieba 0.42's output: "v1.2" comes whole out of finalseg's re_skip; Hangul is outside re_han.
        Assert.Equal(["版本", "v1.2", "和", "日本", "語", "の", "한", "국", "어"], Seg.Cut("版本v1.2和日本語の한국어"));
    }

    [Fact]
    public void Corrupted_dictionary_names_the_line()
    {
        var text = "好 3 a\n坏词 x n\n";
        var e = Assert.Throws<DictionaryFormatException>(() => PrefixDictionary.Load(new MemoryStream(Encoding.UTF8.GetBytes(text)), "my.dict"));
        Assert.Equal(2, e.LineNumber);
        Assert.Contains("my.dict", e.Message);
        Assert.Contains("line 2", e.Message);
        Assert.Contains("坏词 x n", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'a', (byte)' ', (byte)'1', (byte)'\n', (byte)'\n' }, 2)]              // empty line
    [InlineData(new byte[] { (byte)'a', (byte)' ', (byte)'1', (byte)'\n', 0xFF, (byte)' ', (byte)'1' }, 2)] // not UTF-8
    [InlineData(new byte[] { (byte)'a', (byte)'\n' }, 1)]                                                 // no frequency
    [InlineData(new byte[] { (byte)'a', (byte)' ', (byte)'-', (byte)'1' }, 1)]                            // negative
    public void Every_kind_of_bad_dictionary_line_is_reported_with_its_number(byte[] file, int line)
    {
        var e = Assert.Throws<DictionaryFormatException>(() => PrefixDictionary.Load(new MemoryStream(file), "d.txt"));
        Assert.Equal(line, e.LineNumber);
    }

    [Fact]
    public void Corrupted_user_dictionary_names_the_line()
    {
        var seg = JiebaSegmenter.CreateDefault();
        var e = Assert.Throws<DictionaryFormatException>(() =>
            seg.LoadUserDictionary(new MemoryStream([(byte)'x', (byte)'\n', 0xC3, 0x28]), "user.txt"));
        Assert.Equal(2, e.LineNumber);
    }

    [Fact]
    public void Corrupted_hmm_table_names_the_line()
    {
        var e = Assert.Throws<DictionaryFormatException>(() =>
            HmmModel.Load(new MemoryStream(Encoding.UTF8.GetBytes("start\tB\t-0.26\nstart\tQ\t-1\n")), "hmm.tsv"));
        Assert.Equal(2, e.LineNumber);
    }
}
