using System.Diagnostics;
using System.Text;
using Tessera.Text.Segmentation;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera text bench</c>: dictionary load time and memory, and segmentation throughput over a corpus.</summary>
internal static class TextBenchmark
{
    public static int Run(string corpus, int threads, double seconds, string mode, bool strings)
    {
        long before = GC.GetTotalMemory(true);
        var sw = Stopwatch.StartNew();
        var seg = JiebaSegmenter.CreateDefault();
        double firstLoad = sw.Elapsed.TotalSeconds;
        long after = GC.GetTotalMemory(true);
        GC.KeepAlive(seg);
        sw.Restart();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var seg2 = JiebaSegmenter.CreateDefault();
        double secondLoad = sw.Elapsed.TotalSeconds;
        double secondLoadCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        GC.KeepAlive(seg2);
        seg2 = null;

        sw.Restart();
        var raw = Tessera.Text.Data.EmbeddedData.ReadAllBytes(Tessera.Text.Data.EmbeddedData.DictionaryName);
        double gunzip = sw.Elapsed.TotalSeconds;
        sw.Restart();
        PrefixDictionary.LoadCompiled(new MemoryStream(raw), "dict.bin");
        double build = sw.Elapsed.TotalSeconds;
        var lines = File.ReadAllLines(corpus, new UTF8Encoding(false, false));
        long bytes = lines.Sum(l => (long)Encoding.UTF8.GetByteCount(l) + 1);
        var (m, hmm) = mode switch
        {
            "hmm" => (SegmentMode.Accurate, true),
            "nohmm" => (SegmentMode.Accurate, false),
            "full" => (SegmentMode.Full, true),
            "search" => (SegmentMode.Search, true),
            _ => throw new ArgumentException($"unknown mode '{mode}' (hmm, nohmm, full, search)"),
        };

        long Pass()
        {
            long count = 0;
            int per = (lines.Length + threads - 1) / threads;
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                var tokens = new List<Token>();
                long c = 0;
                int end = Math.Min(lines.Length, (t + 1) * per);
                for (int i = t * per; i < end; i++)
                {
                    if (strings) c += seg.Cut(lines[i], m, hmm).Count;
                    else
                    {
                        tokens.Clear();
                        seg.Cut(lines[i], tokens, m, hmm);
                        c += tokens.Count;
                    }
                }
                Interlocked.Add(ref count, c);
            });
            return count;
        }

        Pass(); // warm-up (JIT, tiering)
        var times = new List<double>();
        long tokensPerPass = 0;
        var total = Stopwatch.StartNew();
        do
        {
            sw.Restart();
            tokensPerPass = Pass();
            times.Add(sw.Elapsed.TotalSeconds);
        } while (total.Elapsed.TotalSeconds < seconds || times.Count < 3);
        times.Sort();
        double median = times[times.Count / 2];
        Console.WriteLine(
            $"{{\"impl\":\"tessera\",\"mode\":\"{mode}\",\"threads\":{threads},\"strings\":{(strings ? "true" : "false")},\"bytes\":{bytes},\"lines\":{lines.Length}," +
            $"\"tokens\":{tokensPerPass},\"passes\":{times.Count},\"median_s\":{median:F4},\"mb_per_s\":{bytes / median / 1e6:F2}," +
            $"\"load_first_s\":{firstLoad:F3},\"load_s\":{secondLoad:F3},\"load_cpu_s\":{secondLoadCpu:F3},\"load_gunzip_s\":{gunzip:F3},\"load_build_s\":{build:F3},\"dict_managed_mb\":{(after - before) / 1e6:F1}," +
            $"\"trie_nodes\":{seg.Dictionary.NodeCount},\"process_mb\":{Environment.WorkingSet / 1e6:F0}}}");
        return 0;
    }
}
