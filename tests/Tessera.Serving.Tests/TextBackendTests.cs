using System.Net;
using Tessera.Text.Classification;

namespace Tessera.Serving.Tests;

/// <summary>A text-classification pipeline served as one model: BYTES in, label and scores out.</summary>
public class TextBackendTests
{
    private static void AddTextModel(string repo)
    {
        var examples = new List<(string, string)>();
        string[] fruit = ["我喜欢吃苹果", "香蕉很甜", "苹果和香蕉都是水果", "今天买了新鲜的水果", "橘子很好吃", "西瓜是夏天的水果"];
        string[] sport = ["他每天去踢足球", "篮球比赛很精彩", "我们一起去跑步", "足球运动员训练很辛苦", "游泳是很好的运动", "网球比赛明天开始"];
        foreach (var s in fruit) examples.Add((s, "fruit"));
        foreach (var s in sport) examples.Add((s, "sport"));
        var model = TextClassifier.Train(examples, new TextClassifierOptions { Epochs = 30 });
        string dir = Path.Combine(repo, "topic", "1");
        Directory.CreateDirectory(dir);
        model.Save(Path.Combine(dir, "model.textclf"));
        File.WriteAllText(Path.Combine(repo, "topic", "config.pbtxt"), "name: \"topic\"\nbackend: \"tessera_text\"\nmax_batch_size: 8\n");
    }

    [Fact]
    public async Task Text_model_classifies_bytes_over_rest_json()
    {
        await using var server = await TestServer.StartAsync(prepare: AddTextModel);
        var (status, body) = await server.PostJsonAsync("v2/models/topic/infer",
            """{"inputs":[{"name":"TEXT","datatype":"BYTES","shape":[2],"data":["我想吃苹果和香蕉","明天去踢足球"]}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var outputs = body.GetProperty("outputs").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);
        var labels = outputs["LABEL"].GetProperty("data").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(new[] { "fruit", "sport" }, labels);
        var scores = outputs["SCORES"];
        Assert.Equal([2, 2], scores.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        var s = scores.GetProperty("data").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(1.0, s[0] + s[1], 3);
        Assert.True(s[0] > s[1] && s[3] > s[2], string.Join(", ", s));

        var (bad, error) = await server.PostJsonAsync("v2/models/topic/infer",
            """{"inputs":[{"name":"TEXT","datatype":"FP32","shape":[1],"data":[1.0]}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Contains("TEXT", error.GetProperty("error").GetString());
    }
}
