using Tessera.Data;
using Tessera.Nn;

namespace Tessera.Tests.Nn;

public class TrainerTests
{
    private static TrainingConfig Mlp(int epochs, double dropout = 0, string optimizer = "adam", double lr = 1e-3, int seed = 1) =>
        new(new ModelConfig(784, [64, 32], 10, "relu", dropout), optimizer: optimizer, learningRate: lr, batchSize: 64, seed: seed, epochs: epochs);

    private static IDataset Flat(InMemoryDataset d) => d.WithSampleShape([784]);

    [Fact]
    public void Mlp_learns_fashion_mnist_slice()
    {
        using var trainer = new Trainer(Mlp(epochs: 4));
        var history = trainer.Fit(Flat(FashionMnistSlice.Train), Flat(FashionMnistSlice.Test));
        Assert.Equal(4, history.Count);
        Assert.True(history[^1].TrainLoss < history[0].TrainLoss, "training loss did not decrease");
        // 2 000 training images for 4 epochs: well above the 10 % of chance (the full set reaches 88 %+, see docs).
        Assert.True(history[^1].ValidationAccuracy > 0.70, $"test accuracy {history[^1].ValidationAccuracy:P1}");
    }

    [Fact]
    public void Small_cnn_learns_fashion_mnist_slice()
    {
        var cfg = new TrainingConfig(new ConvNetConfig([1, 28, 28], [new ConvLayerConfig(8), new ConvLayerConfig(16)], [32], 10),
            batchSize: 32, seed: 3, epochs: 3);
        using var trainer = new Trainer(cfg);
        var history = trainer.Fit(FashionMnistSlice.Train, FashionMnistSlice.Test);
        Assert.True(history[^1].ValidationAccuracy > 0.55, $"test accuracy {history[^1].ValidationAccuracy:P1}");
    }

    private static double[][] Weights(Trainer t) => [.. t.Model.NamedParameters().Select(p => p.Parameter.Value.ToDoubleArray())];

    [Fact]
    public void Resuming_from_a_checkpoint_gives_the_same_final_weights_as_an_uninterrupted_run()
    {
        var train = Flat(FashionMnistSlice.Train.Take(640));
        var dir = Directory.CreateTempSubdirectory("tessera-ckpt-").FullName;
        try
        {
            // Dropout makes the check cover the random streams as well as parameters and Adam's moments.
            using var straight = new Trainer(Mlp(epochs: 3, dropout: 0.2));
            straight.Fit(train);

            using (var firstLeg = new Trainer(Mlp(epochs: 3, dropout: 0.2)))
                firstLeg.Fit(train, checkpointDir: dir, untilEpoch: 1);
            using var resumed = Trainer.Resume(dir);
            Assert.Equal(1, resumed.EpochsDone);
            resumed.Fit(train, checkpointDir: dir);
            Assert.Equal(3, resumed.EpochsDone);

            var a = Weights(straight);
            var b = Weights(resumed);
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i]);
            Assert.Equal(straight.History[^1].TrainLoss, resumed.History[^1].TrainLoss);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void A_nan_loss_stops_training_naming_epoch_and_step_and_keeps_the_last_checkpoint()
    {
        var train = Flat(FashionMnistSlice.Train.Take(640));
        var dir = Directory.CreateTempSubdirectory("tessera-ckpt-").FullName;
        try
        {
            using (var good = new Trainer(Mlp(epochs: 2, optimizer: "sgd", lr: 0.01)))
                good.Fit(train, checkpointDir: dir, untilEpoch: 1);
            var before = File.ReadAllBytes(Path.Combine(dir, Checkpoint.FileName));

            using var resumed = Trainer.Resume(dir);
            // Poison a weight: the next forward pass produces NaN logits and a NaN loss.
            resumed.Model.TrainableParameters().First().Value.SetDouble(0, double.NaN);
            var e = Assert.Throws<TrainingDivergedException>(() => resumed.Fit(train, checkpointDir: dir));
            Assert.Contains("epoch 2", e.Message);
            Assert.Contains("step 1", e.Message);
            Assert.Equal(before, File.ReadAllBytes(Path.Combine(dir, Checkpoint.FileName)));
            using var again = Trainer.Resume(dir);
            Assert.Equal(1, again.EpochsDone);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void A_corrupted_checkpoint_is_reported_as_a_checksum_mismatch()
    {
        var dir = Directory.CreateTempSubdirectory("tessera-ckpt-").FullName;
        try
        {
            using (var t = new Trainer(Mlp(epochs: 1)))
                t.Fit(Flat(FashionMnistSlice.Train.Take(128)), checkpointDir: dir);
            var weights = Directory.GetFiles(dir, "*.safetensors").Single();
            var bytes = File.ReadAllBytes(weights);
            bytes[^5] ^= 0x40;
            File.WriteAllBytes(weights, bytes);
            var e = Assert.Throws<InvalidDataException>(() => Trainer.Resume(dir));
            Assert.Contains("checksum mismatch", e.Message);
            File.Delete(weights);
            Assert.Throws<FileNotFoundException>(() => Trainer.Resume(dir));
            Assert.Contains("checkpoint.json is missing", Assert.Throws<FileNotFoundException>(() => Trainer.Resume(Path.Combine(dir, "nothing-here"))).Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Training_data_of_the_wrong_shape_is_rejected_naming_both_shapes()
    {
        using var t = new Trainer(Mlp(epochs: 1));
        var e = Assert.Throws<ShapeMismatchException>(() => t.Fit(FashionMnistSlice.Train));
        Assert.Contains("(1, 28, 28)", e.Message);
        Assert.Contains("(784,)", e.Message);
    }
}
