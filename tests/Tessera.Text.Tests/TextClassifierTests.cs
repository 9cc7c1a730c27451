using System.Text;
using Tessera.Text.Classification;

namespace Tessera.Text.Tests;

public class TextClassifierTests
{
    // Two topics written for this test: sport and finance. Each sentence mixes a topic word with shared filler.
    private static readonly string[] Sport = ["足球", "篮球", "比赛", "球队", "冠军", "运动员", "进球", "教练"];
    private static readonly string[] Finance = ["股票", "银行", "利率", "投资", "市场", "基金", "债券", "汇率"];
    private static readonly string[] Filler = ["今天", "我们", "认为", "这个", "非常", "重要", "新闻", "报道"];

    private static List<(string, string)> Make(int n, int seed)
    {
        var rng = new Random(seed);
        var rows = new List<(string, string)>();
        for (int i = 0; i < n; i++)
        {
            bool sport = i % 2 == 0;
            var topic = sport ? Sport : Finance;
            var sb = new StringBuilder();
            for (int k = 0; k < 6; k++) sb.Append(k % 2 == 0 ? topic[rng.Next(topic.Length)] : Filler[rng.Next(Filler.Length)]);
            rows.Add((sb.ToString(), sport ? "sport" : "finance"));
        }
        return rows;
    }

    [Fact]
    public void Normalizer_maps_full_width_to_half_width_and_lower_case()
    {
        Assert.Equal("abc123! x中文", new TextNormalizer().Normalize("ＡＢＣ１２３！　Ｘ中文"));
        Assert.Equal("ＡＢＣ", new TextNormalizer(HalfWidth: false, LowerCase: false).Normalize("ＡＢＣ"));
    }

    [Fact]
    public void Trains_predicts_held_out_text_and_round_trips_through_one_file()
    {
        var model = TextClassifier.Train(Make(200, 1), new TextClassifierOptions { HashBits = 12, Epochs = 5 }, JiebaFixtures.Segmenter);
        var test = Make(60, 2);
        var (accuracy, f1, _) = model.Evaluate(test);
        Assert.True(accuracy > 0.95, $"held-out accuracy {accuracy}");
        Assert.True(f1 > 0.95);
        var p = model.Predict("足球比赛冠军");
        Assert.Equal("sport", p.Label);
        Assert.Equal(1.0, p.Scores.Sum(s => s.Score), 4);

        var ms = new MemoryStream();
        model.Save(ms);
        ms.Position = 0;
        var loaded = TextClassifier.Load(ms, "mem", JiebaFixtures.Segmenter);
        foreach (var (text, _) in test.Take(10))
            Assert.Equal(model.Predict(text).Scores, loaded.Predict(text).Scores);
    }

    [Fact]
    public void Predicting_bytes_tolerates_invalid_utf8_and_empty_input()
    {
        var model = TextClassifier.Train(Make(200, 3), new TextClassifierOptions { HashBits = 12, Epochs = 5 }, JiebaFixtures.Segmenter);
        var bytes = Encoding.UTF8.GetBytes("银行我们利率").Concat(new byte[] { 0xFF, 0xFE }).ToArray();
        Assert.Equal("finance", model.PredictUtf8(bytes).Label);
        var empty = model.Predict("");
        Assert.Equal(2, empty.Scores.Count);     // only the bias speaks; still a distribution
        Assert.Equal(1.0, empty.Scores.Sum(s => s.Score), 4);
    }

    [Fact]
    public void Csv_reader_handles_quotes_and_reports_bad_rows_by_line()
    {
        var csv = "id,label,text\n1,a,\"hello, \"\"world\"\"\nnext line\"\n2,b,plain\n";
        var rows = LabelledTextCsv.Read(new StringReader(csv), "t.csv");
        Assert.Equal([("hello, \"world\"\nnext line", "a"), ("plain", "b")], rows);

        var e = Assert.Throws<FormatException>(() => LabelledTextCsv.Read(new StringReader("text,label\nok,a\nno-label-field\n"), "bad.csv"));
        Assert.Contains("bad.csv line 3", e.Message);
        Assert.Throws<FormatException>(() => LabelledTextCsv.Read(new StringReader("words,class\nx,y\n"), "h.csv"));
    }

    [Fact]
    public void Damaged_model_file_is_a_clear_error()
    {
        var model = TextClassifier.Train(Make(20, 4), new TextClassifierOptions { HashBits = 8, Epochs = 1 }, JiebaFixtures.Segmenter);
        var ms = new MemoryStream();
        model.Save(ms);
        var cut = ms.ToArray()[..(int)(ms.Length / 2)];
        var e = Assert.ThrowsAny<InvalidDataException>(() => TextClassifier.Load(new MemoryStream(cut), "half.tsc", JiebaFixtures.Segmenter));
        Assert.Contains("half.tsc", e.Message);
        Assert.Throws<InvalidDataException>(() => TextClassifier.Load(new MemoryStream(new byte[] { 1, 2, 3 }), "junk.tsc", JiebaFixtures.Segmenter));
    }

    [Fact]
    public void Training_needs_two_labels()
    {
        Assert.Throws<ArgumentException>(() => TextClassifier.Train([("a", "x"), ("b", "x")]));
    }
}
