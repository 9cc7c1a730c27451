using System.Text;
using System.Text.Json;
using Tessera.Text.Segmentation;

namespace Tessera.Text.Tests;

public class JiebaAgreementTests
{
    [Theory]
    [InlineData("hmm.jsonl", SegmentMode.Accurate, true)]
    [InlineData("nohmm.jsonl", SegmentMode.Accurate, false)]
    [InlineData("full.jsonl", SegmentMode.Full, true)]
    [InlineData("search.jsonl", SegmentMode.Search, true)]
    public void Every_fixture_line_is_cut_exactly_as_jieba_does(string fixture, SegmentMode mode, bool hmm)
    {
        var expected = JiebaFixtures.ReadLines<List<string>>(fixture);
        var inputs = JiebaFixtures.Inputs;
        Assert.Equal(inputs.Count, expected.Count);
        var failures = new StringBuilder();
        int bad = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            var got = JiebaFixtures.Segmenter.Cut(inputs[i], mode, hmm);
            if (!got.SequenceEqual(expected[i]))
            {
                if (bad++ < 3) failures.AppendLine($"line {i + 1}: jieba [{string.Join("|", expected[i])}] tessera [{string.Join("|", got)}]");
            }
        }
        Assert.True(bad == 0, $"{bad} of {inputs.Count} lines differ from jieba:\n{failures}");
    }

    [Fact]
    public void Tokenize_offsets_match_jieba_in_code_points()
    {
        var expected = JiebaFixtures.ReadLines<List<JsonElement[]>>("tokenize.jsonl");
        var inputs = JiebaFixtures.Inputs;
        for (int i = 0; i < inputs.Count; i++)
        {
            string s = inputs[i];
            // jieba counts code points; Tessera counts UTF-16 units. Map one onto the other.
            var cpToUtf16 = new List<int>();
            for (int u = 0; u < s.Length; u += char.IsSurrogatePair(s, u) ? 2 : 1) cpToUtf16.Add(u);
            cpToUtf16.Add(s.Length);
            var got = JiebaFixtures.Segmenter.Tokenize(s);
            Assert.Equal(expected[i].Count, got.Count);
            for (int k = 0; k < got.Count; k++)
            {
                var e = expected[i][k];
                Assert.Equal(e[0].GetString(), got[k].Word);
                Assert.Equal(cpToUtf16[e[1].GetInt32()], got[k].Start);
                Assert.Equal(cpToUtf16[e[2].GetInt32()], got[k].End);
            }
        }
    }

    [Fact]
    public void Cutting_from_many_threads_at_once_gives_jiebas_output()
    {
        var expected = JiebaFixtures.ReadLines<List<string>>("search.jsonl");
        var inputs = JiebaFixtures.Inputs;
        int bad = 0;
        Parallel.For(0, inputs.Count * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, k =>
        {
            int i = k % inputs.Count;
            if (!JiebaFixtures.Segmenter.Cut(inputs[i], SegmentMode.Search).SequenceEqual(expected[i])) Interlocked.Increment(ref bad);
        });
        Assert.Equal(0, bad);
    }

    [Fact]
    public void Tokens_of_accurate_mode_tile_the_input()
    {
        foreach (var s in JiebaFixtures.Inputs)
        {
            var tokens = new List<Token>();
            JiebaFixtures.Segmenter.Cut(s, tokens);
            int pos = 0;
            foreach (var t in tokens)
            {
                Assert.Equal(pos, t.Start);
                Assert.True(t.Length > 0);
                pos = t.End;
            }
            Assert.Equal(s.Length, pos);
        }
    }

    private sealed record Step(string op, string arg, long? freq, List<List<string>> cuts);
    private sealed record UserDictFixture(List<string> sentences, List<Step> steps, long total);

    [Fact]
    public void User_dictionary_and_runtime_edits_replay_like_jieba()
    {
        var fx = JsonSerializer.Deserialize<UserDictFixture>(File.ReadAllText(JiebaFixtures.PathOf("userdict.json")))!;
        var seg = JiebaSegmenter.CreateDefault();
        foreach (var step in fx.steps)
        {
            bool hmm = true;
            switch (step.op)
            {
                case "load_userdict": seg.LoadUserDictionary(new MemoryStream(Encoding.UTF8.GetBytes(step.arg)), "userdict"); break;
                case "add_word": seg.AddWord(step.arg); break;
                case "del_word": seg.DeleteWord(step.arg); break;
                case "suggest_freq_split":
                    Assert.Equal(step.freq, seg.SuggestFrequency(step.arg.Split('|'), tune: true));
                    hmm = false;
                    break;
                case "suggest_freq_join":
                    Assert.Equal(step.freq, seg.SuggestFrequency(step.arg, tune: true));
                    hmm = false;
                    break;
                default: throw new InvalidOperationException(step.op);
            }
            for (int i = 0; i < fx.sentences.Count; i++)
                Assert.Equal(step.cuts[i], seg.Cut(fx.sentences[i], SegmentMode.Accurate, hmm));
        }
        Assert.Equal(fx.total, seg.Dictionary.Total);
    }
}

public class PosTaggerTests
{
    [Fact]
    public void Every_fixture_line_is_tagged_exactly_as_jieba_posseg_does()
    {
        var expected = JiebaFixtures.ReadLines<List<List<string>>>("pos.jsonl");
        var inputs = JiebaFixtures.Inputs;
        var tagger = new PosTagger(JiebaFixtures.Segmenter);
        int bad = 0;
        string first = "";
        for (int i = 0; i < inputs.Count; i++)
        {
            var got = tagger.Tag(inputs[i]).Select(p => p.Word + "/" + p.Tag).ToList();
            var want = expected[i].Select(p => p[0] + "/" + p[1]).ToList();
            if (!got.SequenceEqual(want) && bad++ == 0) first = $"line {i + 1}: jieba [{string.Join(" ", want)}] tessera [{string.Join(" ", got)}]";
        }
        Assert.True(bad == 0, $"{bad} of {inputs.Count} lines differ from jieba.posseg: {first}");
    }

    [Fact]
    public void Known_sentence_is_tagged()
    {
        var tagger = new PosTagger(JiebaFixtures.Segmenter);
        Assert.Equal([("我", "r"), ("爱", "v"), ("北京", "ns"), ("天安门", "ns")], tagger.Tag("我爱北京天安门"));
    }
}
