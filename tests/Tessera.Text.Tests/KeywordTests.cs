using System.Text.Json;
using Tessera.Text.Keywords;

namespace Tessera.Text.Tests;

public class KeywordTests
{
    private sealed record Doc(string text, List<JsonElement[]> tfidf, List<JsonElement[]> tfidf_pos, List<JsonElement[]> textrank);

    private static readonly Lazy<List<Doc>> Docs = new(() =>
        JsonSerializer.Deserialize<List<Doc>>(File.ReadAllText(JiebaFixtures.PathOf("keywords.json")))!);

    private static void AssertSame(List<JsonElement[]> expected, List<(string Word, double Weight)> got, string what)
    {
        Assert.True(expected.Count == got.Count, $"{what}: {expected.Count} keywords expected, {got.Count} got");
        for (int i = 0; i < got.Count; i++)
        {
            Assert.Equal(expected[i][0].GetString(), got[i].Word);
            double w = expected[i][1].GetDouble();
            Assert.True(Math.Abs(w - got[i].Weight) <= 1e-12 * Math.Max(1, Math.Abs(w)), $"{what} {got[i].Word}: {w} vs {got[i].Weight}");
        }
    }

    [Fact]
    public void Tfidf_keywords_and_weights_match_jieba_analyse()
    {
        var kw = new KeywordExtractor(JiebaFixtures.Segmenter);
        foreach (var d in Docs.Value)
        {
            AssertSame(d.tfidf, kw.ExtractTfIdf(d.text, 20), "tfidf");
            AssertSame(d.tfidf_pos, kw.ExtractTfIdf(d.text, 20, ["n", "v", "vn", "ns"]), "tfidf allowPOS");
        }
    }

    [Fact]
    public void Textrank_keywords_and_weights_match_jieba_analyse()
    {
        var kw = new KeywordExtractor(JiebaFixtures.Segmenter);
        foreach (var d in Docs.Value) AssertSame(d.textrank, kw.TextRank(d.text, 20), "textrank");
    }

    [Fact]
    public void Empty_text_has_no_keywords()
    {
        var kw = new KeywordExtractor(JiebaFixtures.Segmenter);
        Assert.Empty(kw.ExtractTfIdf(""));
        Assert.Empty(kw.TextRank(""));
    }

    [Fact]
    public void Corrupted_idf_file_names_the_line()
    {
        var e = Assert.Throws<Segmentation.DictionaryFormatException>(() =>
            IdfTable.Load(new MemoryStream("词 1.5\n坏 abc\n"u8.ToArray()), "idf.txt"));
        Assert.Equal(2, e.LineNumber);
    }
}
