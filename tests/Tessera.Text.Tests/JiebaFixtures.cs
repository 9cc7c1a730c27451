using System.Text.Json;
using Tessera.Text.Segmentation;

namespace Tessera.Text.Tests;

/// <summary>jieba 0.42's outputs from tests/fixtures/text (made by tools/text/make_jieba_fixtures.py).</summary>
internal static class JiebaFixtures
{
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "text", name);

    public static List<T> ReadLines<T>(string name) =>
        File.ReadAllLines(PathOf(name)).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<T>(l)!).ToList();

    private static readonly Lazy<List<string>> InputsLazy = new(() => ReadLines<string>("input.jsonl"));
    public static List<string> Inputs => InputsLazy.Value;

    /// <summary>One segmenter with the default dictionary, shared by the read-only tests.</summary>
    public static JiebaSegmenter Segmenter => JiebaSegmenter.Shared;
}
