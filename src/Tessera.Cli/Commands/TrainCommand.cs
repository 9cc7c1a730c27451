using System.CommandLine;
using System.Globalization;
using System.Text;
using Spectre.Console;
using Tessera.Cli.Plots;
using Tessera.Data;
using Tessera.Nn;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera train</c> and <c>tessera eval</c>: fit a network from a config on an MNIST-style directory.</summary>
internal static class TrainCommand
{
    public static Command CreateTrain()
    {
        var config = new Option<FileInfo>("--config") { Description = "Training config JSON (model + optimizer).", Required = true };
        var data = new Option<DirectoryInfo>("--data") { Description = "Directory with train-/t10k- IDX files (MNIST layout, gzip or not).", Required = true };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs to train (overrides the config)." };
        var output = new Option<DirectoryInfo>("--out") { Description = "Run directory: metrics.csv, loss.svg, accuracy.svg, checkpoint/.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue from RUN_DIR/checkpoint if it exists." };
        var cmd = new Command("train", "Train a network and write metrics, plots and a checkpoint.") { config, data, epochs, output, resume };
        cmd.SetAction(parse => Run(parse.GetValue(config)!, parse.GetValue(data)!, parse.GetValue(epochs), parse.GetValue(output)!, parse.GetValue(resume)));
        return cmd;
    }

    public static Command CreateEval()
    {
        var checkpoint = new Option<DirectoryInfo>("--checkpoint") { Description = "Checkpoint directory (RUN_DIR/checkpoint).", Required = true };
        var data = new Option<DirectoryInfo>("--data") { Description = "Directory with t10k- IDX files.", Required = true };
        var cmd = new Command("eval", "Evaluate a checkpoint on the test split.") { checkpoint, data };
        cmd.SetAction(parse => CliErrors.Guard(() =>
        {
            using var trainer = Trainer.Resume(parse.GetValue(checkpoint)!.FullName);
            var (_, test) = IdxReader.ReadMnistDirectory(parse.GetValue(data)!.FullName);
            var (loss, acc) = trainer.Evaluate(Shape(test, trainer.Config));
            Console.WriteLine($"{{\"test_loss\": {loss.ToString("F6", CultureInfo.InvariantCulture)}, \"test_accuracy\": {acc.ToString("F6", CultureInfo.InvariantCulture)}}}");
            return 0;
        }));
        return cmd;
    }

    public static Command CreateExport()
    {
        var checkpoint = new Option<DirectoryInfo>("--checkpoint") { Description = "Checkpoint directory (RUN_DIR/checkpoint).", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "ONNX file to write (input \"input\", output \"logits\").", Required = true };
        var cmd = new Command("export", "Export a trained network to ONNX (opset 13).") { checkpoint, output };
        cmd.SetAction(parse => CliErrors.Guard(() =>
        {
            using var trainer = Trainer.Resume(parse.GetValue(checkpoint)!.FullName);
            var path = parse.GetValue(output)!.FullName;
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            Tessera.Onnx.OnnxExporter.Export(trainer.Model, trainer.Config.Model.SampleShape, path);
            Console.WriteLine($"wrote {path}: input (N, {string.Join(", ", trainer.Config.Model.SampleShape)}) float32 -> logits (N, {trainer.Config.Model.Classes})");
            return 0;
        }));
        return cmd;
    }

    private static InMemoryDataset Shape(InMemoryDataset d, TrainingConfig cfg) => d.WithSampleShape(cfg.Model.SampleShape);

    private static int Run(FileInfo configFile, DirectoryInfo dataDir, int? epochs, DirectoryInfo outDir, bool resume) => CliErrors.Guard(() =>
    {
        if (!configFile.Exists) throw new FileNotFoundException($"Config file not found: {configFile.FullName}");
        var config = TrainingConfig.FromJson(File.ReadAllText(configFile.FullName));
        if (epochs is int e) config = new TrainingConfig(config.Model, config.Optimizer, config.LearningRate, config.BatchSize, config.Seed,
            config.WeightDecay, config.Momentum, config.LabelSmoothing, config.Schedule, config.GradClipNorm, config.EarlyStoppingPatience, e);
        var (train, test) = IdxReader.ReadMnistDirectory(dataDir.FullName);
        train = Shape(train, config);
        test = Shape(test, config);
        Directory.CreateDirectory(outDir.FullName);
        string ckpt = Path.Combine(outDir.FullName, "checkpoint");
        using var trainer = resume && File.Exists(Path.Combine(ckpt, Checkpoint.FileName)) ? Trainer.Resume(ckpt) : new Trainer(config);
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(config.Model.GetType().Name)}[/]: {trainer.Model.ParameterCount:N0} parameters; {train.Count:N0} training, {test.Count:N0} test samples; {config.Optimizer}, batch {config.BatchSize}");

        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                int currentEpoch = 0;
                var report = new InlineProgress(p =>
                {
                    if (p.Epoch != currentEpoch)
                    {
                        if (task is not null) task.Value = task.MaxValue;
                        currentEpoch = p.Epoch;
                        task = ctx.AddTask($"epoch {p.Epoch}/{config.Epochs}", maxValue: p.StepsPerEpoch);
                    }
                    task!.Value = p.Step;
                    task.Description = $"epoch {p.Epoch}/{config.Epochs} loss {p.Loss:F4} acc {p.Accuracy:P1} {p.SamplesPerSecond:N0}/s";
                });
                trainer.Fit(train, test, ckpt, report);
                if (task is not null) task.Value = task.MaxValue;
            });

        WriteMetrics(outDir.FullName, trainer.History);
        var last = trainer.History[^1];
        AnsiConsole.MarkupLine($"metrics: {Markup.Escape(Path.Combine(outDir.FullName, "metrics.csv"))}; plots: loss.svg, accuracy.svg; checkpoint: {Markup.Escape(ckpt)}");
        Console.WriteLine($"final test accuracy: {last.ValidationAccuracy!.Value.ToString("P2", CultureInfo.InvariantCulture)} (loss {last.ValidationLoss!.Value.ToString("F4", CultureInfo.InvariantCulture)})");
        return 0;
    });

    private static void WriteMetrics(string dir, IReadOnlyList<EpochMetrics> history)
    {
        var csv = new StringBuilder("epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,samples_per_second,learning_rate\n");
        foreach (var m in history)
            csv.AppendLine(string.Join(",", new object?[] { m.Epoch, m.TrainLoss, m.TrainAccuracy, m.ValidationLoss, m.ValidationAccuracy, m.Seconds, m.SamplesPerSecond, m.LearningRate }
                .Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))));
        File.WriteAllText(Path.Combine(dir, "metrics.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(dir, "loss.svg"), SvgLinePlot.Render("Loss", "epoch", "cross-entropy",
        [
            ("train", history.Select(m => ((double)m.Epoch, m.TrainLoss)).ToList()),
            ("test", history.Select(m => ((double)m.Epoch, m.ValidationLoss ?? double.NaN)).ToList()),
        ]));
        File.WriteAllText(Path.Combine(dir, "accuracy.svg"), SvgLinePlot.Render("Accuracy", "epoch", "accuracy",
        [
            ("train", history.Select(m => ((double)m.Epoch, m.TrainAccuracy)).ToList()),
            ("test", history.Select(m => ((double)m.Epoch, m.ValidationAccuracy ?? double.NaN)).ToList()),
        ]));
    }

    /// <summary>An IProgress that runs its callback on the reporting thread (System.Progress posts to the thread pool).</summary>
    private sealed class InlineProgress(Action<StepProgress> callback) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => callback(value);
    }
}

/// <summary>Turns expected failures (bad config, missing files, corrupt data) into one clear line and exit code 1.</summary>
internal static class CliErrors
{
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException or TrainingDivergedException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
