using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tessera.Trees;
using Tessera.Trees.Boosting;
using Tessera.Trees.Data;
using Tessera.Trees.Forest;
using Tessera.Trees.Selection;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera trees train|predict</c>: gradient-boosted trees and random forests on CSV/TSV files.</summary>
internal static class TreesCommand
{
    public static Command Create()
    {
        var trees = new Command("trees", "Train and apply gradient-boosted trees and random forests on CSV/TSV data.");
        trees.Subcommands.Add(CreateTrain());
        trees.Subcommands.Add(CreatePredict());
        return trees;
    }

    private static Command CreateTrain()
    {
        var data = new Argument<string>("data") { Description = "CSV/TSV file with a header row." };
        var label = new Option<string?>("--label") { Description = "Label column (default: the last column)." };
        var test = new Option<string?>("--test") { Description = "Held-out CSV file (instead of --test-fraction)." };
        var model = new Option<string>("--model") { Description = "gbdt (gradient boosting) or rf (random forest).", DefaultValueFactory = _ => "gbdt" };
        model.AcceptOnlyFromAmong("gbdt", "rf");
        var objective = new Option<string?>("--objective")
        {
            Description = "binary:logistic, multi:softprob, multi:softmax, reg:squarederror, reg:absoluteerror, reg:pseudohubererror " +
                          "(rf: classification or regression). Default: classification for text labels or up to 20 distinct integers, else regression.",
        };
        var rounds = new Option<int>("--rounds") { Description = "Boosting rounds.", DefaultValueFactory = _ => 100 };
        var maxDepth = new Option<int>("--max-depth") { Description = "Maximum tree depth (gbdt default 6; rf default 0 = unlimited).", DefaultValueFactory = _ => -1 };
        var learningRate = new Option<double>("--learning-rate") { Description = "Shrinkage (eta).", DefaultValueFactory = _ => 0.3 };
        var maxLeaves = new Option<int>("--max-leaves") { Description = "Maximum leaves per tree (0 = unlimited)." };
        var growPolicy = new Option<string>("--grow-policy") { Description = "depthwise or lossguide (leaf-wise).", DefaultValueFactory = _ => "depthwise" };
        growPolicy.AcceptOnlyFromAmong("depthwise", "lossguide");
        var maxBin = new Option<int>("--max-bin") { Description = "Histogram bins per feature (2..255).", DefaultValueFactory = _ => 255 };
        var minChildWeight = new Option<double>("--min-child-weight") { DefaultValueFactory = _ => 1 };
        var lambda = new Option<double>("--reg-lambda") { Description = "L2 regularisation.", DefaultValueFactory = _ => 1 };
        var alpha = new Option<double>("--reg-alpha") { Description = "L1 regularisation." };
        var subsample = new Option<double>("--subsample") { Description = "Row fraction per tree.", DefaultValueFactory = _ => 1 };
        var colsample = new Option<double>("--colsample-bytree") { Description = "Feature fraction per tree.", DefaultValueFactory = _ => 1 };
        var earlyStopping = new Option<int>("--early-stopping") { Description = "Stop after N rounds without improvement on the held-out rows." };
        var forestTrees = new Option<int>("--trees") { Description = "Random forest: number of trees.", DefaultValueFactory = _ => 100 };
        var maxFeatures = new Option<double?>("--max-features") { Description = "Random forest: fraction of features per split (default sqrt for classification)." };
        var testFraction = new Option<double>("--test-fraction") { Description = "Held-out fraction (stratified for classification).", DefaultValueFactory = _ => 0.2 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Worker threads (default: processor count).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cv = new Option<int>("--cv") { Description = "k-fold cross-validation on the training rows (reports mean ± std)." };
        var grid = new Option<string?>("--grid") { Description = "Grid search, e.g. \"max_depth=4,6;learning_rate=0.1,0.3\" (3 folds unless --cv)." };
        var randomSearch = new Option<int>("--random-search") { Description = "Try N random settings from --grid (values, or lo:hi ranges)." };
        var metric = new Option<string?>("--metric") { Description = "Search metric: accuracy, logloss, auc, rmse, mae (default accuracy or rmse)." };
        var categorical = new Option<string?>("--categorical") { Description = "Comma-separated columns to treat as categorical." };
        var ignore = new Option<string?>("--ignore") { Description = "Comma-separated columns to drop." };
        var output = new Option<string?>("--out") { Description = "Save the trained model as JSON." };
        var onnx = new Option<string?>("--onnx") { Description = "Export the trained model as ONNX-ML (TreeEnsembleClassifier/Regressor)." };
        var warmup = new Option<bool>("--warmup") { Description = "Fit a 1-round model first so fit_seconds excludes JIT compilation." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress bar." };

        var cmd = new Command("train", "Train on a CSV file and print held-out metrics as JSON on the last line.");
        cmd.Arguments.Add(data);
        foreach (var o in new Option[] { label, test, model, objective, rounds, maxDepth, learningRate, maxLeaves, growPolicy, maxBin, minChildWeight,
                     lambda, alpha, subsample, colsample, earlyStopping, forestTrees, maxFeatures, testFraction, seed, threads, cv, grid, randomSearch,
                     metric, categorical, ignore, output, onnx, warmup, quiet })
            cmd.Options.Add(o);

        cmd.SetAction(p =>
        {
            try
            {
                var read = new CsvReadOptions
                {
                    Label = p.GetValue(label), Categorical = SplitList(p.GetValue(categorical)), Ignore = SplitList(p.GetValue(ignore)),
                };
                var all = CsvTableReader.ReadFile(p.GetValue(data)!, read);
                bool rf = p.GetValue(model) == "rf";
                string? obj = p.GetValue(objective);
                bool classification = obj is null ? LooksLikeClassification(all) : obj.StartsWith("binary:") || obj.StartsWith("multi:") || obj == "classification";
                int seedValue = p.GetValue(seed), threadCount = Math.Max(1, p.GetValue(threads));

                TabularData train, holdout;
                if (p.GetValue(test) is { } testPath)
                {
                    train = all;
                    holdout = CsvTableReader.ReadFile(testPath, read with { Label = all.LabelName });
                }
                else
                {
                    IReadOnlyList<int>? classes = classification ? LabelEncoding.EncodeClasses(all).Classes : null;
                    var (tr, te) = DataSplits.TrainTest(all.Rows, p.GetValue(testFraction), seedValue, classes);
                    train = all.Subset(tr);
                    holdout = all.Subset(te);
                }

                int depth = p.GetValue(maxDepth);
                var boost = new BoosterOptions
                {
                    Objective = obj ?? (classification ? (LabelEncoding.EncodeClasses(train).Names.Length == 2 ? "binary:logistic" : "multi:softprob") : "reg:squarederror"),
                    Rounds = p.GetValue(rounds), MaxDepth = depth < 0 ? 6 : depth, LearningRate = p.GetValue(learningRate), MaxLeaves = p.GetValue(maxLeaves),
                    GrowPolicy = p.GetValue(growPolicy) == "lossguide" ? GrowPolicy.LeafWise : GrowPolicy.DepthWise, MaxBin = p.GetValue(maxBin),
                    MinChildWeight = p.GetValue(minChildWeight), Lambda = p.GetValue(lambda), Alpha = p.GetValue(alpha), Subsample = p.GetValue(subsample),
                    ColsampleByTree = p.GetValue(colsample), EarlyStoppingRounds = p.GetValue(earlyStopping), Seed = seedValue, Threads = threadCount,
                };
                var forest = new RandomForestOptions
                {
                    Classification = classification, Trees = p.GetValue(forestTrees), MaxDepth = Math.Max(0, depth), MaxFeatures = p.GetValue(maxFeatures),
                    MaxBin = p.GetValue(maxBin), Seed = seedValue, Threads = threadCount,
                };
                bool showProgress = !p.GetValue(quiet);
                var result = new Dictionary<string, object?>
                {
                    ["model"] = rf ? "random_forest" : "gradient_boosting",
                    ["objective"] = rf ? (classification ? "classification" : "regression") : boost.Objective,
                    ["train_rows"] = train.Rows, ["test_rows"] = holdout.Rows, ["features"] = train.ColumnCount, ["threads"] = threadCount,
                };

                ITreeEnsemble Fit(TabularData d, BoosterOptions bo, RandomForestOptions fo, TabularData? valid, bool progress) => rf
                    ? RandomForest.Train(d, fo)
                    : GradientBooster.Train(d, bo, valid, progress ? r => Progress(r.Round + 1, r.TotalRounds, r.Metric, r.Validation) : null);

                int folds = p.GetValue(cv);
                string? gridSpec = p.GetValue(grid);
                if (gridSpec is not null)
                {
                    var spec = ModelSelection.ParseGrid(gridSpec);
                    var settings = p.GetValue(randomSearch) is > 0 and var n
                        ? ModelSelection.RandomCombinations(spec, n, seedValue) : ModelSelection.GridCombinations(spec);
                    string m = p.GetValue(metric) ?? (classification ? "accuracy" : "rmse");
                    var search = ModelSelection.Search(train, settings,
                        (s, d) => rf ? Fit(d, boost, ModelSelection.Apply(forest, s), null, false) : Fit(d, ModelSelection.Apply(boost, s), forest, null, false),
                        classification, m, folds >= 2 ? folds : 3, seedValue,
                        t => Console.Error.WriteLine($"  {string.Join(" ", t.Parameters.Select(kv => kv.Key + "=" + kv.Value))}: {t.Scores.Format(m)}"));
                    if (rf) forest = ModelSelection.Apply(forest, search.Best.Parameters);
                    else boost = ModelSelection.Apply(boost, search.Best.Parameters);
                    result["search"] = new Dictionary<string, object?>
                    {
                        ["metric"] = m, ["best"] = search.Best.Parameters, ["best_mean"] = search.Best.Scores.Mean[m], ["best_std"] = search.Best.Scores.Std[m],
                        ["trials"] = search.Trials.Select(t => new Dictionary<string, object?> { ["params"] = t.Parameters, ["mean"] = t.Scores.Mean, ["std"] = t.Scores.Std }).ToList(),
                    };
                }
                else if (folds >= 2)
                {
                    var cvResult = ModelSelection.CrossValidate(train, d => Fit(d, boost, forest, null, false), classification, folds, seedValue);
                    foreach (var key in cvResult.Mean.Keys) Console.Error.WriteLine("  cv " + cvResult.Format(key));
                    result["cv"] = new Dictionary<string, object?> { ["folds"] = folds, ["mean"] = cvResult.Mean, ["std"] = cvResult.Std };
                }

                if (p.GetValue(warmup)) Fit(train, boost with { Rounds = 1, EarlyStoppingRounds = 0 }, forest with { Trees = Math.Min(2, forest.Trees) }, null, false);
                var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                var fitted = Fit(train, boost, forest, boost.EarlyStoppingRounds > 0 ? holdout : null, showProgress);
                double fitSeconds = sw.Elapsed.TotalSeconds;
                double fitCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
                if (showProgress) Console.Error.WriteLine();
                fitted.PredictScores(holdout, threadCount); // JIT warm-up of the prediction path
                // Best of 20 calls: one call on a small test set is a few milliseconds, and a single sample on a shared
                // machine mostly measures the scheduler (bench/trees_xgboost.py times XGBoost the same way).
                double predictSeconds = double.PositiveInfinity;
                for (int rep = 0; rep < 20; rep++)
                {
                    sw.Restart();
                    fitted.PredictScores(holdout, threadCount);
                    predictSeconds = Math.Min(predictSeconds, sw.Elapsed.TotalSeconds);
                }
                var metrics = EnsembleEvaluation.Evaluate(fitted, holdout, threadCount);
                foreach (var (k, v) in metrics) result[k] = v;
                result["fit_seconds"] = fitSeconds;
                result["fit_cpu_seconds"] = fitCpuSeconds;
                result["predict_seconds"] = predictSeconds;
                result["predict_rows_per_second"] = holdout.Rows / Math.Max(predictSeconds, 1e-9);
                if (fitted is BoostedTreesModel b)
                {
                    result["rounds"] = b.Rounds;
                    if (b.BestIteration >= 0) result["best_iteration"] = b.BestIteration;
                    result["params"] = new Dictionary<string, object?> { ["max_depth"] = boost.MaxDepth, ["learning_rate"] = boost.LearningRate, ["rounds"] = boost.Rounds, ["max_bin"] = boost.MaxBin };
                }
                if (fitted is RandomForestModel f)
                {
                    result["trees"] = f.Trees.Count;
                    result["oob_score"] = double.IsNaN(f.OobScore) ? null : f.OobScore;
                }
                if (p.GetValue(output) is { } outPath)
                {
                    fitted.Save(outPath);
                    result["saved"] = outPath;
                }
                if (p.GetValue(onnx) is { } onnxPath)
                {
                    if (fitted is BoostedTreesModel bo) Tessera.Trees.Onnx.OnnxTreeExporter.Save(bo, onnxPath);
                    else Tessera.Trees.Onnx.OnnxTreeExporter.Save((RandomForestModel)fitted, onnxPath);
                    result["onnx"] = onnxPath;
                }
                Console.WriteLine(JsonSerializer.Serialize(result));
                return 0;
            }
            catch (Exception e) when (e is TabularDataException or ArgumentException or IOException or InvalidDataException or NotSupportedException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    private static Command CreatePredict()
    {
        var modelPath = new Argument<string>("model") { Description = "Model JSON written by 'tessera trees train --out'." };
        var data = new Argument<string>("data") { Description = "CSV/TSV file with the training columns (the label column is optional)." };
        var output = new Option<string?>("--out") { Description = "Write predictions as CSV here (default: standard output)." };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("predict", "Predict with a saved model; prints metrics as JSON on the last line when the file has the label column.");
        cmd.Arguments.Add(modelPath);
        cmd.Arguments.Add(data);
        cmd.Options.Add(output);
        cmd.Options.Add(threads);
        cmd.SetAction(p =>
        {
            try
            {
                string path = p.GetValue(modelPath)!;
                ITreeEnsemble model = File.ReadAllText(path).Contains("\"kind\":\"random_forest\"") ? RandomForestModel.Load(path) : BoostedTreesModel.Load(path);
                string labelName = model is BoostedTreesModel bm ? bm.LabelName : ((RandomForestModel)model).LabelName;
                string dataPath = p.GetValue(data)!;
                string header = ReadHeader(dataPath);
                bool hasLabel = header.Split([',', '\t', ';']).Select(h => h.Trim().Trim('"')).Contains(labelName);
                var table = CsvTableReader.ReadFile(dataPath, new CsvReadOptions { Label = hasLabel ? labelName : null, NoLabel = !hasLabel });
                int t = Math.Max(1, p.GetValue(threads));
                var sw = Stopwatch.StartNew();
                var scores = model.PredictScores(table, t);
                double seconds = sw.Elapsed.TotalSeconds;
                using (var writer = p.GetValue(output) is { } o ? new StreamWriter(o) : new StreamWriter(Console.OpenStandardOutput()))
                {
                    if (model.IsClassification)
                    {
                        var names = model.ClassLabels!;
                        writer.WriteLine("prediction," + string.Join(",", names.Select(n => "p_" + n)));
                        int k = names.Count;
                        for (int r = 0; r < table.Rows; r++)
                        {
                            var row = scores.AsSpan(r * k, k);
                            int best = 0;
                            for (int c = 1; c < k; c++) if (row[c] > row[best]) best = c;
                            writer.WriteLine(names[best] + "," + string.Join(",", row.ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
                        }
                    }
                    else
                    {
                        writer.WriteLine("prediction");
                        foreach (double v in scores) writer.WriteLine(v.ToString("R", CultureInfo.InvariantCulture));
                    }
                }
                var result = new Dictionary<string, object?> { ["rows"] = table.Rows, ["predict_seconds"] = seconds, ["predict_rows_per_second"] = table.Rows / Math.Max(seconds, 1e-9) };
                if (hasLabel) foreach (var (k, v) in EnsembleEvaluation.Evaluate(model, table, t)) result[k] = v;
                if (p.GetValue(output) is not null || hasLabel) Console.WriteLine(JsonSerializer.Serialize(result));
                return 0;
            }
            catch (Exception e) when (e is TabularDataException or ArgumentException or IOException or InvalidDataException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    private static string ReadHeader(string path)
    {
        using Stream s = File.OpenRead(path);
        using Stream z = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new System.IO.Compression.GZipStream(s, System.IO.Compression.CompressionMode.Decompress) : s;
        using var r = new StreamReader(z);
        return r.ReadLine() ?? "";
    }

    private static string[] SplitList(string? s) => s is null ? [] : s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Text labels, or at most 20 distinct integer labels, mean classification.</summary>
    private static bool LooksLikeClassification(TabularData data) =>
        data.LabelNames is not null || (data.Labels.All(v => v == Math.Floor(v)) && data.Labels.Distinct().Count() <= 20);

    private static void Progress(int done, int total, string metric, double? validation)
    {
        const int Width = 30;
        int filled = (int)((long)done * Width / total);
        string extra = validation is { } v ? string.Create(CultureInfo.InvariantCulture, $" {metric} {v:F5}") : "";
        Console.Error.Write($"\r[{new string('#', filled)}{new string(' ', Width - filled)}] {done}/{total}{extra}   ");
    }
}
