using System.Text;
using Tessera.Text.Segmentation;

namespace Tessera.Text.Tests;

public class PrefixDictionaryTests
{
    [Fact]
    public void Embedded_compiled_dictionary_equals_jiebas_dict_txt()
    {
        var text = PrefixDictionary.LoadFile(JiebaFixtures.PathOf("dict.txt.gz"));
        var compiled = PrefixDictionary.LoadDefault();
        Assert.Equal(text.Total, compiled.Total);
        Assert.Equal(text.NodeCount, compiled.NodeCount);
        Assert.Equal(60101967, compiled.Total);       // jieba 0.42: sum of dict.txt's frequencies
        using var reader = new StreamReader(Data.EmbeddedData.OpenFile(JiebaFixtures.PathOf("dict.txt.gz")));
        int checkedWords = 0;
        while (reader.ReadLine() is { } line)
        {
            var f = line.Split(' ');
            Assert.Equal(text.Frequency(f[0]), compiled.Frequency(f[0]));
            Assert.Equal(f[2], compiled.Tag(f[0]));
            checkedWords++;
        }
        Assert.Equal(349046, checkedWords);
    }

    [Fact]
    public void Compiled_form_round_trips_prefixes_zero_frequencies_and_tags()
    {
        var d = PrefixDictionary.Load(new MemoryStream(Encoding.UTF8.GetBytes("北京大学 10 nt\n北 0\nab 3\n好 5 a\n好 7\n")), "t");
        Assert.Equal(25, d.Total);
        Assert.Equal(7, d.Frequency("好"));              // a later duplicate overwrites, the total keeps both
        Assert.Equal(0, d.Frequency("北京"));            // prefix
        Assert.Null(d.Frequency("南"));
        var ms = new MemoryStream();
        d.SaveCompiled(ms);
        var c = PrefixDictionary.LoadCompiled(new MemoryStream(ms.ToArray()), "t.bin");
        foreach (var w in new[] { "北京大学", "北京大", "北京", "北", "ab", "a", "好", "南" })
            Assert.Equal(d.Frequency(w), c.Frequency(w));
        Assert.Equal("nt", c.Tag("北京大学"));
        Assert.Equal("a", c.Tag("好"));
        Assert.Equal(d.Total, c.Total);
    }

    [Fact]
    public void Truncated_compiled_dictionary_is_a_clear_error()
    {
        var ms = new MemoryStream();
        PrefixDictionary.Load(new MemoryStream(Encoding.UTF8.GetBytes("北京大学 10 nt\n好 5 a\n")), "t").SaveCompiled(ms);
        var bytes = ms.ToArray()[..^3];
        var e = Assert.Throws<DictionaryFormatException>(() => PrefixDictionary.LoadCompiled(new MemoryStream(bytes), "cut.bin"));
        Assert.Contains("cut.bin", e.Message);
        Assert.Contains("corrupt compiled dictionary", e.Message);
    }
}
