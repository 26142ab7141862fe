using EsoLM.Data;

namespace EsoLM.Tests.Data;

public sealed class GrammarRecognizerTests
{
    private static readonly GrammarRecognizer Recognizer = BuiltInLanguage.Recognizer;

    [Theory]
    [InlineData("The cat sleeps.")]
    [InlineData("The cats sleep.")]
    [InlineData("A dog chases the cats.")]
    [InlineData("An old owl sees two small rabbits.")]
    [InlineData("An uncle greets an angry bear quickly.")]
    [InlineData("Every elephant carries a big red box.")]
    [InlineData("The dog that chases the cats runs.")] // subject relative
    [InlineData("The cat that the dogs chase sleeps.")] // object relative
    [InlineData("The girl who helps the teachers sings quietly.")]
    [InlineData("Several men who the queen admires wait near the bridge.")]
    [InlineData("The boy sleeps and the girls sing.")] // coordination
    [InlineData("Every farmer in the field watches the birds but the king laughs.")]
    [InlineData("Some children walk today in the garden.")]
    [InlineData("The cat near the dog near the box sleeps.")] // depth 2
    [InlineData("These ducks swim in the river with the frogs.")]
    [InlineData("One woman finds an egg under the table.")]
    public void Hand_written_sentences_are_accepted(string sentence)
    {
        Assert.True(Recognizer.IsValidSentence(sentence), sentence);
    }

    [Theory]
    [InlineData("The cats sleeps.", "subject-verb agreement (plural subject, singular verb)")]
    [InlineData("The cat sleep.", "subject-verb agreement (singular subject, plural verb)")]
    [InlineData("The dog that chase the cats runs.", "agreement inside a subject relative clause")]
    [InlineData("The cat that the dogs chases sleeps.", "agreement inside an object relative clause")]
    [InlineData("The boy sleeps and the girls sings.", "agreement in the second coordinated clause")]
    [InlineData("The cat chases.", "transitive verb without object")]
    [InlineData("The cat chases quickly.", "transitive verb without object, adverb instead")]
    [InlineData("The cat sleeps the dog.", "intransitive verb with object")]
    [InlineData("A cats sleep.", "singular determiner with plural noun")]
    [InlineData("Two cat sleeps.", "plural determiner with singular noun")]
    [InlineData("A owl sleeps.", "'a' before a vowel")]
    [InlineData("An cat sleeps.", "'an' before a consonant")]
    [InlineData("An big owl sleeps.", "'an' before a consonant adjective")]
    [InlineData("Cat the sleeps.", "shuffled word order")]
    [InlineData("The chases cat the dog.", "shuffled word order")]
    [InlineData("Sleeps the cat.", "shuffled word order")]
    [InlineData("The cat sleeps", "missing final period")]
    [InlineData("The zebra sleeps.", "unknown word")]
    [InlineData("The cat sleeps!", "unknown punctuation")]
    [InlineData("The the cat sleeps.", "doubled determiner")]
    [InlineData("The big red old cat sleeps.", "three adjectives (bound is 2)")]
    [InlineData("The big big cat sleeps.", "repeated adjective")]
    [InlineData("The cat big sleeps.", "adjective after the noun")]
    [InlineData("The tree who the dog sees falls.", "'who' on an inanimate noun")]
    [InlineData("The cat sleeps and.", "conjunction without a second clause")]
    [InlineData("The cat sleeps and the dog runs and the bird sings.", "three clauses (bound is 2)")]
    [InlineData("The cat near the dog near the box near the tree sleeps.", "prepositional phrases nested three deep (bound is 2)")]
    [InlineData("The cat quickly sleeps.", "adverb before the verb")]
    [InlineData("The cat sleeps quickly slowly.", "two adverbs")]
    [InlineData("The cat in sleeps.", "preposition without object")]
    [InlineData("the cat sleeps.", "first word not capitalised")]
    [InlineData("The Cat sleeps.", "capitalised word inside the sentence")]
    [InlineData("The cat sleeps .", "detached period")]
    [InlineData("The cat. Sleeps.", "period inside the sentence")]
    [InlineData(".", "no words")]
    [InlineData("", "empty")]
    [InlineData("The big old cat near the small dog that the angry men fear chases the red box in the garden quickly.", "21 words (bound is 20)")]
    public void Hand_written_invalid_sentences_are_rejected(string sentence, string rule)
    {
        Assert.False(Recognizer.IsValidSentence(sentence), $"{rule}: {sentence}");
    }

    [Fact]
    public void The_word_limit_is_exact()
    {
        // 20 words: accepted; the same with one more adjective (21 words): rejected.
        const string twenty = "The big cat near the small dog that the angry men fear chases the red box in the garden quickly.";
        Assert.Equal(20, twenty.Split(' ').Length);
        Assert.True(Recognizer.IsValidSentence(twenty));
        Assert.False(Recognizer.IsValidSentence(twenty.Replace("The big cat", "The big old cat", StringComparison.Ordinal)));
        Assert.True(new GrammarRecognizer(new GrammarOptions { MaxWords = 21 })
            .IsValidSentence(twenty.Replace("The big cat", "The big old cat", StringComparison.Ordinal)));
    }

    [Fact]
    public void Bounds_come_from_the_options()
    {
        var wide = new GrammarRecognizer(new GrammarOptions { MaxDepth = 3, MaxClauses = 3, MaxAdjectives = 3 });
        Assert.True(wide.IsValidSentence("The cat near the dog near the box near the tree sleeps."));
        Assert.True(wide.IsValidSentence("The cat sleeps and the dog runs and the bird sings."));
        Assert.True(wide.IsValidSentence("The big red old cat sleeps."));
        var flat = new GrammarRecognizer(new GrammarOptions { MaxDepth = 0, MaxClauses = 1, MaxAdjectives = 0 });
        Assert.True(flat.IsValidSentence("The cat sees the dogs."));
        Assert.False(flat.IsValidSentence("The cat sleeps in the house."));
        Assert.False(flat.IsValidSentence("The dog that runs sleeps."));
        Assert.False(flat.IsValidSentence("The cat sleeps and the dog runs."));
        Assert.False(flat.IsValidSentence("The big cat sleeps."));
    }

    [Fact]
    public void Three_valid_and_one_invalid_sentence_give_exactly_three_quarters()
    {
        var r = Recognizer.Analyze("The cat sleeps. The dogs run. A bird sings. The cats sleeps.");
        Assert.Equal(new RecognitionResult(4, 3, false), r);
        Assert.Equal(1, r.InvalidSentences);
        Assert.Equal(0.75, r.ValidityRate);
        Assert.False(Recognizer.IsValidText("The cat sleeps. The dogs run. A bird sings. The cats sleeps."));
    }

    [Fact]
    public void Validity_rate_is_pooled_over_the_sentences_of_all_samples()
    {
        Assert.Equal(0.75, Recognizer.ValidityRate(["The cat sleeps. The dogs run.", "A bird sings. The cats sleeps."]));
        Assert.Equal(0.5, Recognizer.ValidityRate(["The cat sleeps.", "", "The cats sleeps. The dog ru"]));
        Assert.Equal(0, Recognizer.ValidityRate([]));
        Assert.Equal(0, Recognizer.ValidityRate(["", "   ", "The cat"]));
        Assert.Throws<ArgumentNullException>(() => Recognizer.ValidityRate(null!));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\t ")]
    public void Empty_text_has_no_sentences_and_rate_zero(string text)
    {
        var r = Recognizer.Analyze(text);
        Assert.Equal(new RecognitionResult(0, 0, false), r);
        Assert.Equal(0, r.ValidityRate);
        Assert.False(Recognizer.IsValidText(text));
    }

    [Fact]
    public void A_trailing_unfinished_sentence_is_ignored_but_reported()
    {
        var r = Recognizer.Analyze("The cat sleeps. The dogs chase the");
        Assert.Equal(new RecognitionResult(1, 1, true), r);
        Assert.Equal(1.0, r.ValidityRate);
        Assert.False(Recognizer.IsValidText("The cat sleeps. The dogs chase the"));

        // Only a fragment: nothing counted.
        Assert.Equal(new RecognitionResult(0, 0, true), Recognizer.Analyze("The cat sleeps"));

        // An invalid last sentence stays counted; whitespace after the last period is not a fragment.
        Assert.Equal(new RecognitionResult(2, 1, false), Recognizer.Analyze("The cat sleeps. The cat sleep.  \n"));
    }

    [Fact]
    public void An_unfinished_sentence_before_the_end_is_counted_invalid()
    {
        // "The dogs chase the" has no period, so it runs into the next sentence: one invalid span.
        var r = Recognizer.Analyze("The cat sleeps. The dogs chase the A bird sings. The cats sleep.");
        Assert.Equal(new RecognitionResult(3, 2, false), r);
        Assert.Equal(2.0 / 3, r.ValidityRate);
    }

    [Fact]
    public void Whitespace_between_and_inside_sentences_is_normalised()
    {
        const string text = "  The cat\tsleeps.\n\nThe   dogs run.A bird sings.\r\n";
        Assert.True(Recognizer.IsValidText(text));
        Assert.Equal(new RecognitionResult(3, 3, false), Recognizer.Analyze(text));
        Assert.True(Recognizer.IsValidSentence("  The  cat \n sleeps. "));
    }

    [Fact]
    public void Null_arguments_are_rejected()
    {
        Assert.Throws<ArgumentNullException>(() => Recognizer.IsValidSentence(null!));
        Assert.Throws<ArgumentNullException>(() => Recognizer.IsValidText(null!));
        Assert.Throws<ArgumentNullException>(() => Recognizer.Analyze(null!));
    }
}
