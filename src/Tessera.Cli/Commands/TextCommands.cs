using System.CommandLine;
using System.Text;
using Tessera.Text;
using Tessera.Text.Segmentation;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera segment</c>, <c>tessera keywords</c>, <c>tessera text train|predict</c>: Chinese text tools.</summary>
internal static class TextCommands
{
    /// <summary>Reads UTF-8 text line by line as Python's text mode does (\n, \r and \r\n end a line; bad bytes become U+FFFD).</summary>
    internal static StreamReader OpenInput(string? file) =>
        TextLines.Open(file is null or "-" ? Console.OpenStandardInput() : File.OpenRead(file));

    internal static StreamWriter OpenOutput() =>
        new(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16) { AutoFlush = false, NewLine = "\n" };

    /// <summary><c>tessera segment [-d DELIM] [-n] [-a] [--search] [FILE]</c>, mirroring <c>python3 -m jieba</c>.</summary>
    public static Command CreateSegment()
    {
        var delim = new Option<string?>("--delimiter", "-d")
        {
            Description = "Use DELIM instead of ' / ' between words; a space if -d is given without DELIM.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var noHmm = new Option<bool>("--no-hmm", "-n") { Description = "Don't use the Hidden Markov Model." };
        var all = new Option<bool>("--cut-all", "-a") { Description = "Full mode: every dictionary word." };
        var search = new Option<bool>("--search") { Description = "Search-engine mode (jieba.cut_for_search)." };
        var pos = new Option<string?>("--pos", "-p")
        {
            Description = "POS tagging; DELIM (default '_') between word and tag.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var userDict = new Option<string?>("--user-dict", "-u") { Description = "Load USER_DICT with the default dictionary." };
        var dict = new Option<string?>("--dict", "-D") { Description = "Use DICT (jieba dict.txt format, may be .gz) as the dictionary." };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Accepted for compatibility; nothing is printed to stderr." };
        var file = new Argument<string?>("FILE") { Description = "Input file (default: standard input).", Arity = ArgumentArity.ZeroOrOne };

        var cmd = new Command("segment", "Cut Chinese text into words, one output line per input line (like python3 -m jieba).");
        foreach (var o in new Option[] { delim, noHmm, all, search, pos, userDict, dict, quiet }) cmd.Options.Add(o);
        cmd.Arguments.Add(file);
        cmd.SetAction(parseResult =>
        {
            string d = parseResult.GetResult(delim) is { } dr ? (dr.Tokens.Count == 0 ? " " : dr.Tokens[0].Value) : " / ";
            bool hmm = !parseResult.GetValue(noHmm);
            var mode = parseResult.GetValue(search) ? SegmentMode.Search : parseResult.GetValue(all) ? SegmentMode.Full : SegmentMode.Accurate;
            string? posDelim = parseResult.GetResult(pos) is { } pr ? (pr.Tokens.Count == 0 ? "_" : pr.Tokens[0].Value) : null;
            string? path = parseResult.GetValue(file);
            try
            {
                var seg = parseResult.GetValue(dict) is { } dpath
                    ? new JiebaSegmenter(PrefixDictionary.LoadFile(dpath))
                    : JiebaSegmenter.CreateDefault();
                if (parseResult.GetValue(userDict) is { } u) seg.LoadUserDictionary(u);
                using var input = OpenInput(path);
                using var output = OpenOutput();
                if (posDelim != null) return SegmentPos(seg, input, output, d, posDelim, hmm);
                var tokens = new List<Token>();
                string? line;
                while ((line = input.ReadLine()) != null)
                {
                    tokens.Clear();
                    seg.Cut(line, tokens, mode, hmm);
                    for (int i = 0; i < tokens.Count; i++)
                    {
                        if (i > 0) output.Write(d);
                        output.Write(line.AsSpan(tokens[i].Start, tokens[i].Length));
                    }
                    output.Write('\n');
                }
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                Console.Error.WriteLine($"tessera segment: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    /// <summary><c>tessera keywords [-k N] [--textrank] [--pos n,v] [-w] [FILE]</c>: the whole input is one document.</summary>
    public static Command CreateKeywords()
    {
        var topK = new Option<int>("--top", "-k") { Description = "How many keywords.", DefaultValueFactory = _ => 20 };
        var textRank = new Option<bool>("--textrank") { Description = "TextRank instead of TF-IDF." };
        var pos = new Option<string?>("--pos") { Description = "Comma-separated POS tags to keep (TextRank default: ns,n,vn,v)." };
        var weights = new Option<bool>("--weights", "-w") { Description = "Print each keyword's weight after a tab." };
        var idf = new Option<string?>("--idf") { Description = "IDF file ('word idf' lines) instead of jieba's." };
        var file = new Argument<string?>("FILE") { Description = "Input file (default: standard input).", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("keywords", "Extract keywords (jieba.analyse TF-IDF or TextRank), one per line.");
        foreach (var o in new Option[] { topK, textRank, pos, weights, idf }) cmd.Options.Add(o);
        cmd.Arguments.Add(file);
        cmd.SetAction(p =>
        {
            try
            {
                string text;
                using (var input = OpenInput(p.GetValue(file))) text = input.ReadToEnd();
                var kw = new Tessera.Text.Keywords.KeywordExtractor(JiebaSegmenter.CreateDefault(),
                    p.GetValue(idf) is { } path ? Tessera.Text.Keywords.IdfTable.LoadFile(path) : null);
                var allow = p.GetValue(pos)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var result = p.GetValue(textRank) ? kw.TextRank(text, p.GetValue(topK), allow) : kw.ExtractTfIdf(text, p.GetValue(topK), allow);
                using var output = OpenOutput();
                foreach (var (w, weight) in result)
                    output.WriteLine(p.GetValue(weights) ? $"{w}\t{weight.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}" : w);
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                Console.Error.WriteLine($"tessera keywords: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    /// <summary><c>tessera text ...</c>: the classification pipeline and the segmenter benchmark.</summary>
    public static Command CreateText()
    {
        var text = new Command("text", "Chinese text: classification pipeline (train, predict) and segmenter benchmark.");
        text.Subcommands.Add(CreateTrain());
        text.Subcommands.Add(CreatePredict());
        text.Subcommands.Add(CreateBench());
        text.Subcommands.Add(CreateCompileDict());
        return text;
    }

    private static Command CreateBench()
    {
        var corpus = new Argument<string>("CORPUS") { Description = "UTF-8 text file, cut line by line." };
        var threads = new Option<int>("--threads") { Description = "Worker threads.", DefaultValueFactory = _ => 1 };
        var seconds = new Option<double>("--seconds") { Description = "Minimum timed duration.", DefaultValueFactory = _ => 5 };
        var mode = new Option<string>("--mode") { Description = "hmm, nohmm, full or search.", DefaultValueFactory = _ => "hmm" };
        var spans = new Option<bool>("--spans") { Description = "Collect token ranges instead of strings." };
        var cmd = new Command("bench", "Dictionary load time/memory and segmentation throughput (JSON line).");
        cmd.Arguments.Add(corpus);
        foreach (var o in new Option[] { threads, seconds, mode, spans }) cmd.Options.Add(o);
        cmd.SetAction(p => TextBenchmark.Run(p.GetValue(corpus)!, p.GetValue(threads), p.GetValue(seconds), p.GetValue(mode)!, !p.GetValue(spans)));
        return cmd;
    }

    private static Command CreateTrain()
    {
        var train = new Option<string>("--train") { Description = "Training CSV with 'text' and 'label' columns.", Required = true };
        var test = new Option<string?>("--test") { Description = "Held-out CSV to report accuracy on." };
        var output = new Option<string>("--out", "-o") { Description = "Model file to write.", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => 8 };
        var bits = new Option<int>("--hash-bits") { Description = "Feature buckets = 2^bits.", DefaultValueFactory = _ => 18 };
        var ngrams = new Option<int>("--ngrams") { Description = "Longest word n-gram.", DefaultValueFactory = _ => 2 };
        var l2 = new Option<float>("--l2") { Description = "L2 weight decay.", DefaultValueFactory = _ => 1e-6f };
        var lr = new Option<float>("--lr") { Description = "AdaGrad learning rate.", DefaultValueFactory = _ => 0.5f };
        var cmd = new Command("train", "Train the text classifier (normalize, segment, hashed n-gram TF-IDF, softmax regression).");
        foreach (var o in new Option[] { train, test, output, epochs, bits, ngrams, l2, lr }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            try
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var data = Tessera.Text.Classification.LabelledTextCsv.ReadFile(p.GetValue(train)!);
                var options = new Tessera.Text.Classification.TextClassifierOptions
                {
                    Epochs = p.GetValue(epochs), HashBits = p.GetValue(bits), MaxNgram = p.GetValue(ngrams),
                    L2 = p.GetValue(l2), LearningRate = p.GetValue(lr),
                };
                var model = Tessera.Text.Classification.TextClassifier.Train(data, options);
                model.Save(p.GetValue(output)!);
                var (trainAcc, trainF1, _) = model.Evaluate(data);
                Console.WriteLine($"trained on {data.Count} examples, {model.Labels.Count} labels in {sw.Elapsed.TotalSeconds:F1} s; " +
                                  $"train accuracy {trainAcc:P2}, macro-F1 {trainF1:F4}");
                if (p.GetValue(test) is { } testPath)
                {
                    var held = Tessera.Text.Classification.LabelledTextCsv.ReadFile(testPath);
                    var (acc, f1, confusion) = model.Evaluate(held);
                    var majority = held.GroupBy(e => e.Label).Max(g => g.Count()) / (double)Math.Max(1, held.Count);
                    Console.WriteLine($"held-out: {held.Count} examples, accuracy {acc:P2}, macro-F1 {f1:F4} (majority class {majority:P2})");
                    Console.WriteLine("confusion (rows: true, columns: predicted): " + string.Join(" ", model.Labels));
                    for (int r = 0; r < model.Labels.Count; r++)
                        Console.WriteLine($"  {model.Labels[r],-16} " + string.Join(" ", Enumerable.Range(0, model.Labels.Count).Select(c => confusion[r, c].ToString().PadLeft(5))));
                }
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
            {
                Console.Error.WriteLine($"tessera text train: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    private static Command CreatePredict()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model file from 'tessera text train'.", Required = true };
        var all = new Option<bool>("--scores") { Description = "Print every label's probability." };
        var file = new Argument<string?>("FILE") { Description = "Texts, one per line (default: standard input).", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("predict", "Predict a label for each input line: 'label<TAB>probability'.");
        cmd.Options.Add(model);
        cmd.Options.Add(all);
        cmd.Arguments.Add(file);
        cmd.SetAction(p =>
        {
            try
            {
                var m = Tessera.Text.Classification.TextClassifier.Load(p.GetValue(model)!);
                using var input = OpenInput(p.GetValue(file));
                using var output = OpenOutput();
                var inv = System.Globalization.CultureInfo.InvariantCulture;
                while (input.ReadLine() is { } line)
                {
                    var r = m.Predict(line);
                    output.Write($"{r.Label}\t{r.Score.ToString("F4", inv)}");
                    if (p.GetValue(all))
                        foreach (var s in r.Scores) output.Write($"\t{s.Label}={s.Score.ToString("F4", inv)}");
                    output.Write('\n');
                }
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                Console.Error.WriteLine($"tessera text predict: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    private static Command CreateCompileDict()
    {
        var input = new Argument<string>("INPUT") { Description = "Dictionary in jieba's dict.txt format (may be .gz)." };
        var output = new Argument<string>("OUTPUT") { Description = "Compiled dictionary to write (gzipped when it ends in .gz)." };
        var cmd = new Command("compile-dict", "Compile a jieba dict.txt into Tessera's fast-loading form.");
        cmd.Arguments.Add(input);
        cmd.Arguments.Add(output);
        cmd.SetAction(p =>
        {
            try
            {
                var dict = PrefixDictionary.LoadFile(p.GetValue(input)!);
                string path = p.GetValue(output)!;
                using var file = File.Create(path);
                using Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
                    ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.SmallestSize)
                    : file;
                dict.SaveCompiled(s);
                Console.WriteLine($"{path}: {dict.NodeCount} trie nodes, total frequency {dict.Total}");
                return 0;
            }
            catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"tessera text compile-dict: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    private static int SegmentPos(JiebaSegmenter seg, StreamReader input, StreamWriter output, string delim, string posDelim, bool hmm)
    {
        var tagger = new PosTagger(seg);
        var tokens = new List<TaggedToken>();
        while (input.ReadLine() is { } line)
        {
            tokens.Clear();
            tagger.Tag(line, tokens, hmm);
            for (int i = 0; i < tokens.Count; i++)
            {
                if (i > 0) output.Write(delim);
                output.Write(line.AsSpan(tokens[i].Start, tokens[i].Length));
                output.Write(posDelim);
                output.Write(tokens[i].Tag);
            }
            output.Write('\n');
        }
        return 0;
    }
}
