/**
 * Hand-written seed text for the search relevance set (issue 16): one line per course with its catalogue fields, and per
 * lesson a title and the sentences only that lesson says. corpus.ts expands each lesson into a few paragraphs
 * (deterministically) around these sentences. Subjects overlap on purpose (bread and pastry, Python for the web and for
 * data, Spanish and French for travellers, personal and corporate finance) so that ranking matters, and 12 courses are
 * in French. Keys are stable: the judgements in queries.ts name them.
 */
export interface SeedCourse {
  key: string;
  language: 'en' | 'fr';
  category: string;
  level: 'beginner' | 'intermediate' | 'advanced' | 'all';
  title: string;
  summary: string;
  tags: string[];
  /** Modules: a title and lessons as `Lesson title: what it teaches.` */
  modules: Array<[string, string[]]>;
}

const c = (
  key: string,
  language: SeedCourse['language'],
  category: string,
  level: SeedCourse['level'],
  title: string,
  summary: string,
  tags: string,
  modules: Array<[string, string[]]>,
): SeedCourse => ({ key, language, category, level, title, summary, tags: tags.split(',').map((t) => t.trim()), modules });

export const SEED_COURSES: SeedCourse[] = [
  // Cooking and food
  c(
    'sourdough',
    'en',
    'Cooking',
    'beginner',
    'Sourdough Bread Baking at Home',
    'Bake crusty, open-crumb sourdough loaves in a home oven with a starter you raise yourself.',
    'baking,bread,sourdough',
    [
      [
        'Raising a starter',
        [
          'Feeding your starter: Mix equal weights of whole wheat flour and water every day; after a week the wild yeast doubles the jar in six hours.',
          'Reading fermentation: Bubbles on the sides, a domed top and a tangy smell tell you the levain is ready to leaven dough.',
        ],
      ],
      [
        'From dough to loaf',
        [
          'Autolyse and folds: Rest flour and water for an hour, add salt, then give four sets of stretch and folds during bulk fermentation.',
          'Shaping, scoring and baking: Pre-shape a boule, proof it overnight in the fridge and bake it in a covered Dutch oven at 250 °C.',
        ],
      ],
    ],
  ),
  c(
    'pastry',
    'en',
    'Cooking',
    'intermediate',
    'French Pastry Fundamentals',
    'Laminated doughs, choux and custards: the techniques behind croissants, éclairs and tarts.',
    'baking,pastry,dessert',
    [
      [
        'Laminated dough',
        [
          'Croissant lamination: Lock a slab of cold butter into the dough and give three letter folds, chilling between each turn.',
          'Puff pastry: Inverse puff pastry keeps its layers when baked hot and fast for mille-feuille.',
        ],
      ],
      [
        'Choux and creams',
        [
          'Choux paste: Cook flour into boiling water and butter, then beat in eggs until the paste falls in a ribbon; pipe éclairs and profiteroles.',
          'Crème pâtissière: Thicken milk, sugar and yolks with starch, boil for a minute and chill it under film.',
        ],
      ],
    ],
  ),
  c(
    'knife',
    'en',
    'Cooking',
    'beginner',
    'Knife Skills for Home Cooks',
    'Hold, sharpen and use a chef’s knife safely: dice, julienne and chiffonade like a line cook.',
    'cooking,knife,kitchen basics',
    [
      [
        'The knife',
        [
          'Choosing and sharpening: A whetstone at a fifteen degree angle restores the edge; a honing steel only realigns it.',
          'The pinch grip and the claw: Pinch the blade, curl the fingertips of the guiding hand and let the knuckles guide the flat of the blade.',
        ],
      ],
      [
        'Cuts',
        [
          'Dice and brunoise: Square an onion or carrot into planks, then batons, then even cubes so they cook at the same speed.',
          'Julienne and chiffonade: Roll basil leaves into a cigar and slice thin ribbons; cut peppers into matchsticks for a stir-fry.',
        ],
      ],
    ],
  ),
  c(
    'vegan',
    'en',
    'Cooking',
    'beginner',
    'Plant-Based Cooking Every Day',
    'Balanced vegan meals with legumes, grains and vegetables, and protein without meat or dairy.',
    'cooking,vegan,nutrition',
    [
      [
        'Plant proteins',
        [
          'Beans, lentils and tofu: Combine legumes with grains over the day for complete protein; press tofu before frying.',
          'Vitamin B12 and iron: A vegan diet needs a B12 supplement; vitamin C with lentils helps the body absorb iron.',
        ],
      ],
      [
        'Meals',
        [
          'Batch cooking: Cook a pot of chickpeas and a tray of roasted vegetables on Sunday for the week’s bowls.',
          'Dairy-free sauces: Blend soaked cashews with lemon and garlic into a creamy sauce without milk.',
        ],
      ],
    ],
  ),
  c(
    'wine',
    'en',
    'Cooking',
    'all',
    'Wine Tasting and Food Pairing',
    'Taste wine like a sommelier and match it with food: grape varieties, regions and pairing rules.',
    'wine,tasting,food pairing',
    [
      [
        'Tasting',
        [
          'Look, smell, taste: Judge colour, swirl to release aromas, then note acidity, tannin, body and finish.',
          'Grape varieties: Pinot noir is light and red-fruited, cabernet sauvignon tannic, riesling high in acid.',
        ],
      ],
      [
        'Pairing',
        [
          'Pairing rules: Match the weight of the wine to the dish; acidity cuts fat and sweet wines need sweeter desserts.',
          'Cheese and wine: Salty blue cheese loves a sweet Sauternes; goat cheese suits a crisp sauvignon blanc.',
        ],
      ],
    ],
  ),
  // Programming
  c(
    'python-intro',
    'en',
    'Programming',
    'beginner',
    'Introduction to Python Programming',
    'Learn to code from zero with Python: variables, loops, functions and your first programs.',
    'python,programming,coding',
    [
      [
        'First steps',
        [
          'Variables and types: Store numbers, strings and lists in variables and print them; Python infers the type.',
          'Conditions and loops: Use if, elif and else, then repeat work with for loops over a range or a list.',
        ],
      ],
      [
        'Functions and files',
        [
          'Writing functions: Define a function with def, give it parameters and return a value instead of printing.',
          'Reading files: Open a text file with a with-block, read it line by line and count the words.',
        ],
      ],
    ],
  ),
  c(
    'python-data',
    'en',
    'Data Science',
    'intermediate',
    'Data Analysis with Python and pandas',
    'Clean, explore and visualise data sets with pandas, NumPy and matplotlib in Jupyter notebooks.',
    'python,pandas,data analysis',
    [
      [
        'DataFrames',
        [
          'Loading data: Read a CSV file into a DataFrame, inspect dtypes and count missing values.',
          'Grouping and joining: Group sales by region with groupby, aggregate the mean and merge two tables on a key.',
        ],
      ],
      [
        'Visualisation',
        [
          'Charts with matplotlib: Draw line charts for time series and histograms for distributions.',
          'Telling a story with data: Choose the chart that answers the question and label axes with units.',
        ],
      ],
    ],
  ),
  c(
    'web-django',
    'en',
    'Programming',
    'intermediate',
    'Building Web Applications with Django',
    'Models, views, templates and forms: ship a database-backed web app in Python with Django.',
    'python,django,web development',
    [
      [
        'Models and the ORM',
        [
          'Defining models: Describe tables as Python classes and let migrations create the schema in PostgreSQL.',
          'Querying: Filter, order and join records with the ORM instead of writing SQL by hand.',
        ],
      ],
      [
        'Views and deployment',
        [
          'Views and templates: Map URLs to views and render HTML templates with the context.',
          'Deploying: Run Django behind gunicorn and nginx, with static files collected and secrets in environment variables.',
        ],
      ],
    ],
  ),
  c(
    'javascript',
    'en',
    'Programming',
    'beginner',
    'JavaScript for the Browser',
    'Make web pages interactive: the DOM, events, fetch and modern JavaScript syntax.',
    'javascript,web development,frontend',
    [
      [
        'The language',
        [
          'Let, const and arrow functions: Declare variables with let and const and write short callbacks with arrows.',
          'Arrays and objects: Map, filter and reduce arrays; destructure objects into variables.',
        ],
      ],
      [
        'The page',
        [
          'DOM and events: Select elements with querySelector and react to clicks with addEventListener.',
          'Fetching data: Call a JSON API with fetch and async await, and show a spinner while it loads.',
        ],
      ],
    ],
  ),
  c(
    'react',
    'en',
    'Programming',
    'intermediate',
    'React: Components and Hooks',
    'Build single-page applications with React components, state, effects and routing.',
    'react,javascript,frontend',
    [
      [
        'Components',
        [
          'JSX and props: Compose a user interface from small components that receive props.',
          'State with useState: Keep form input in state and re-render when it changes.',
        ],
      ],
      [
        'Effects and data',
        [
          'useEffect: Fetch data when a component mounts and clean up subscriptions when it unmounts.',
          'Routing: Map paths to pages with a router and read parameters from the URL.',
        ],
      ],
    ],
  ),
  c(
    'sql',
    'en',
    'Data Science',
    'beginner',
    'SQL for Beginners',
    'Query relational databases: SELECT, WHERE, JOIN, GROUP BY and indexes, with PostgreSQL.',
    'sql,databases,postgresql',
    [
      [
        'Queries',
        [
          'Selecting and filtering: Choose columns with SELECT and rows with WHERE, then sort with ORDER BY.',
          'Joins: Combine customers and orders with an inner join; a left join keeps customers without orders.',
        ],
      ],
      [
        'Aggregates and indexes',
        [
          'GROUP BY and HAVING: Count orders per customer and keep only those above ten.',
          'Indexes: A B-tree index turns a full table scan into a quick lookup; EXPLAIN shows the plan.',
        ],
      ],
    ],
  ),
  c(
    'git',
    'en',
    'Programming',
    'beginner',
    'Version Control with Git',
    'Track changes, branch, merge and collaborate on code with Git and pull requests.',
    'git,version control,collaboration',
    [
      [
        'Local work',
        [
          'Commits: Stage changes with git add and record them with a message that explains why.',
          'Branches: Create a branch for each feature and switch between them with git switch.',
        ],
      ],
      [
        'Teamwork',
        [
          'Merging and conflicts: Merge a branch, resolve conflicting lines and commit the result.',
          'Pull requests: Push a branch, open a pull request and review a colleague’s changes.',
        ],
      ],
    ],
  ),
  c(
    'ml',
    'en',
    'Data Science',
    'advanced',
    'Machine Learning Foundations',
    'Supervised learning from linear regression to gradient boosting, with scikit-learn and honest evaluation.',
    'machine learning,ai,scikit-learn',
    [
      [
        'Models',
        [
          'Linear and logistic regression: Fit a line to predict prices and a logistic curve to predict a yes or no answer.',
          'Decision trees and ensembles: Random forests and gradient boosting combine many trees for accuracy.',
        ],
      ],
      [
        'Evaluation',
        [
          'Train, validation and test: Hold out data the model never sees and use cross-validation to choose hyperparameters.',
          'Overfitting: A model that memorises the training set fails on new data; regularisation helps.',
        ],
      ],
    ],
  ),
  c(
    'deep-learning',
    'en',
    'Data Science',
    'advanced',
    'Deep Learning and Neural Networks',
    'Neural networks, backpropagation, convolutional networks for images and transformers for text.',
    'deep learning,neural networks,ai',
    [
      [
        'Networks',
        [
          'Neurons and layers: A network stacks layers of weighted sums and activation functions such as ReLU.',
          'Backpropagation: Gradients of the loss flow backwards and gradient descent updates the weights.',
        ],
      ],
      [
        'Architectures',
        [
          'Convolutional networks: Filters slide over images to detect edges, then shapes, then objects.',
          'Transformers and attention: Attention lets each word in a sentence weigh every other word; large language models are built this way.',
        ],
      ],
    ],
  ),
  c(
    'cyber',
    'en',
    'IT & Security',
    'intermediate',
    'Cybersecurity Essentials',
    'Protect systems and people: threats, passwords, phishing, encryption and incident response.',
    'security,cybersecurity,networks',
    [
      [
        'Threats',
        [
          'Phishing and social engineering: Fake emails trick people into giving passwords; check the sender and the link.',
          'Malware and ransomware: Ransomware encrypts files and demands payment; offline backups defeat it.',
        ],
      ],
      [
        'Defences',
        [
          'Passwords and two-factor authentication: Use a password manager and a second factor on every account.',
          'Encryption: TLS protects data in transit and disk encryption protects a stolen laptop.',
        ],
      ],
    ],
  ),
  c(
    'cloud',
    'en',
    'IT & Security',
    'intermediate',
    'Cloud Computing and Containers',
    'Run applications in the cloud with virtual machines, Docker containers and Kubernetes.',
    'cloud,docker,kubernetes,devops',
    [
      [
        'Containers',
        [
          'Docker images: Write a Dockerfile, build an image and run it as a container with its own file system.',
          'Compose: Start an app with its database using a compose file.',
        ],
      ],
      [
        'Orchestration',
        [
          'Kubernetes basics: Pods, deployments and services keep the right number of containers running.',
          'Scaling and cost: Autoscaling adds instances under load; pay-as-you-go pricing rewards switching things off.',
        ],
      ],
    ],
  ),
  c(
    'linux',
    'en',
    'IT & Security',
    'beginner',
    'The Linux Command Line',
    'Navigate, edit and automate on Linux with the shell: files, permissions, pipes and scripts.',
    'linux,shell,bash',
    [
      [
        'The shell',
        [
          'Files and folders: Move around with cd, list with ls and copy, move and remove files.',
          'Permissions: Read, write and execute bits for owner, group and others; change them with chmod.',
        ],
      ],
      [
        'Automation',
        [
          'Pipes and grep: Chain commands with pipes and search logs with grep.',
          'Shell scripts: Write a bash script with variables and loops and schedule it with cron.',
        ],
      ],
    ],
  ),
  // Languages
  c(
    'spanish',
    'en',
    'Languages',
    'beginner',
    'Spanish for Travellers',
    'Order food, ask for directions and chat with locals: practical Spanish for your next trip.',
    'spanish,language learning,travel',
    [
      [
        'Getting around',
        [
          'Greetings and introductions: Say hola, buenos días and me llamo, and ask ¿cómo estás?',
          'Directions: Ask ¿dónde está la estación? and understand a la derecha and a la izquierda.',
        ],
      ],
      [
        'Eating out',
        [
          'At the restaurant: Order with quisiera and ask for la cuenta at the end.',
          'Numbers and prices: Count to a hundred and ask ¿cuánto cuesta? at the market.',
        ],
      ],
    ],
  ),
  c(
    'english-business',
    'en',
    'Languages',
    'intermediate',
    'Business English Communication',
    'Write clear emails, run meetings and present with confidence in English at work.',
    'english,business communication,language learning',
    [
      [
        'Writing',
        [
          'Professional emails: Open politely, state the request in the first line and close with a clear next step.',
          'Reports: Structure a short report with a summary, findings and recommendations.',
        ],
      ],
      [
        'Speaking',
        [
          'Meetings: Interrupt politely, agree and disagree, and summarise the decisions.',
          'Presentations: Signpost your talk and handle questions from the audience.',
        ],
      ],
    ],
  ),
  c(
    'japanese',
    'en',
    'Languages',
    'beginner',
    'Japanese for Absolute Beginners',
    'Read hiragana and katakana, greet people and build simple sentences in Japanese.',
    'japanese,language learning,writing systems',
    [
      [
        'Writing',
        [
          'Hiragana: Learn the 46 basic characters with mnemonics and write them in stroke order.',
          'Katakana and kanji: Katakana spells foreign words; the first kanji are numbers and days.',
        ],
      ],
      [
        'Speaking',
        [
          'Greetings: Konnichiwa, arigatou gozaimasu and the politeness of desu and masu.',
          'Simple sentences: Topic, object and verb with the particles wa, wo and ni.',
        ],
      ],
    ],
  ),
  c(
    'german',
    'en',
    'Languages',
    'intermediate',
    'German Grammar Made Clear',
    'Cases, articles, word order and verbs: the grammar that makes German click.',
    'german,grammar,language learning',
    [
      [
        'Cases',
        [
          'Nominative and accusative: Der becomes den for a masculine direct object.',
          'Dative and genitive: Prepositions such as mit and bei always take the dative.',
        ],
      ],
      [
        'Verbs',
        [
          'Verb second and verb final: The verb comes second in a main clause and last after weil or dass.',
          'The perfect tense: Haben or sein with a past participle such as gegessen or gefahren.',
        ],
      ],
    ],
  ),
  // Business and finance
  c(
    'personal-finance',
    'en',
    'Business',
    'beginner',
    'Personal Finance and Budgeting',
    'Take control of your money: budgets, emergency funds, debt, saving and investing for retirement.',
    'personal finance,budgeting,investing',
    [
      [
        'Budgeting',
        [
          'The 50/30/20 budget: Split take-home pay between needs, wants and savings and track spending monthly.',
          'Emergency fund and debt: Save three months of expenses, then pay off high-interest credit cards first.',
        ],
      ],
      [
        'Investing',
        [
          'Index funds: Low-cost index funds spread risk over the whole market; compound interest does the rest.',
          'Retirement accounts: Employer pension matches are free money; start early.',
        ],
      ],
    ],
  ),
  c(
    'accounting',
    'en',
    'Business',
    'beginner',
    'Accounting Basics for Small Business',
    'Bookkeeping, the balance sheet, profit and loss and cash flow for owners and freelancers.',
    'accounting,bookkeeping,small business',
    [
      [
        'Bookkeeping',
        [
          'Double-entry bookkeeping: Every transaction debits one account and credits another.',
          'Invoices and receipts: Keep every receipt and number invoices in sequence.',
        ],
      ],
      [
        'Statements',
        [
          'Balance sheet: Assets equal liabilities plus equity at one moment in time.',
          'Profit and loss and cash flow: A profitable business can still run out of cash if customers pay late.',
        ],
      ],
    ],
  ),
  c(
    'tax-law',
    'en',
    'Law',
    'advanced',
    'Corporate Tax Law',
    'How companies are taxed: corporate income tax, VAT, transfer pricing and international tax treaties.',
    'tax,law,corporate',
    [
      [
        'Corporate income tax',
        [
          'Taxable profit: Start from accounting profit and adjust for non-deductible expenses and depreciation.',
          'Losses and groups: Carry losses forward and consolidate subsidiaries in a tax group.',
        ],
      ],
      [
        'International tax',
        [
          'Transfer pricing: Transactions between related companies must follow the arm’s length principle.',
          'Tax treaties and VAT: Double tax treaties allocate taxing rights; VAT is charged at each stage of supply.',
        ],
      ],
    ],
  ),
  c(
    'contract-law',
    'en',
    'Law',
    'intermediate',
    'Contract Law Essentials',
    'Offer, acceptance, consideration and breach: how contracts are formed and enforced.',
    'law,contracts,legal',
    [
      [
        'Formation',
        [
          'Offer and acceptance: A contract forms when an offer is accepted unconditionally.',
          'Consideration and intention: Each side must give something of value and intend legal relations.',
        ],
      ],
      [
        'Breach',
        [
          'Terms and breach: Conditions, warranties and what happens when a party fails to perform.',
          'Remedies: Damages put the innocent party where the contract would have; injunctions stop a breach.',
        ],
      ],
    ],
  ),
  c(
    'marketing',
    'en',
    'Marketing',
    'beginner',
    'Digital Marketing Fundamentals',
    'Reach customers online with SEO, social media, email campaigns and paid ads, and measure what works.',
    'marketing,seo,social media',
    [
      [
        'Channels',
        [
          'Search engine optimisation: Research keywords, write useful pages and earn links so Google ranks you.',
          'Social media marketing: Post consistently, engage followers and use short video on Instagram and TikTok.',
        ],
      ],
      [
        'Measurement',
        [
          'Email campaigns: Segment the list, write a clear subject line and test two versions.',
          'Analytics and conversion: Track conversions and the cost of acquiring a customer.',
        ],
      ],
    ],
  ),
  c(
    'leadership',
    'en',
    'Management',
    'intermediate',
    'Leading Teams as a New Manager',
    'Move from expert to manager: one-to-ones, feedback, delegation and motivating a team.',
    'leadership,management,teams',
    [
      [
        'Your team',
        [
          'One-to-one meetings: Meet each report every week and let them set the agenda.',
          'Feedback: Describe the situation, the behaviour and its impact, then listen.',
        ],
      ],
      [
        'Getting things done',
        [
          'Delegation: Hand over outcomes, not tasks, and agree how often to check in.',
          'Motivation: Autonomy, mastery and purpose drive people more than bonuses.',
        ],
      ],
    ],
  ),
  c(
    'project-mgmt',
    'en',
    'Management',
    'intermediate',
    'Project Management with Agile and Scrum',
    'Plan and deliver projects: scope, schedules, risks, and agile sprints with Scrum and Kanban.',
    'project management,agile,scrum',
    [
      [
        'Planning',
        [
          'Scope and work breakdown: Break the project into deliverables and estimate each one.',
          'Risk register: List risks with likelihood and impact and name an owner for each.',
        ],
      ],
      [
        'Agile delivery',
        [
          'Scrum sprints: A product backlog, two-week sprints, daily stand-ups and a retrospective.',
          'Kanban boards: Visualise work in columns and limit work in progress.',
        ],
      ],
    ],
  ),
  c(
    'entrepreneur',
    'en',
    'Business',
    'beginner',
    'Starting Your Own Business',
    'From idea to first customers: validate a business idea, write a lean plan and find funding.',
    'entrepreneurship,startup,small business',
    [
      [
        'The idea',
        [
          'Customer interviews: Talk to twenty potential customers before building anything.',
          'Lean canvas: Fill in problem, solution, channels, revenue and costs on one page.',
        ],
      ],
      [
        'Launch',
        [
          'Minimum viable product: Build the smallest thing that tests whether people will pay.',
          'Funding: Bootstrapping, loans, angel investors and crowdfunding compared.',
        ],
      ],
    ],
  ),
  // Science and maths
  c(
    'calculus',
    'en',
    'Mathematics',
    'intermediate',
    'Calculus I: Limits, Derivatives and Integrals',
    'The mathematics of change: limits, differentiation rules, optimisation and the fundamental theorem.',
    'mathematics,calculus,derivatives',
    [
      [
        'Derivatives',
        [
          'Limits: The derivative is the limit of the slope of secant lines as the interval shrinks.',
          'Rules of differentiation: Power, product, quotient and chain rules; use them to find maxima and minima.',
        ],
      ],
      [
        'Integrals',
        [
          'Area under a curve: Riemann sums approximate the area and the integral is their limit.',
          'The fundamental theorem: Integration and differentiation undo each other.',
        ],
      ],
    ],
  ),
  c(
    'statistics',
    'en',
    'Mathematics',
    'beginner',
    'Statistics for Everyone',
    'Averages, spread, probability, sampling and hypothesis tests explained with everyday examples.',
    'statistics,probability,data',
    [
      [
        'Describing data',
        ['Mean, median and standard deviation: Summarise a data set and spot outliers.', 'Probability: Coin flips, dice and the normal distribution.'],
      ],
      [
        'Inference',
        [
          'Sampling and confidence intervals: A random sample estimates the population with a margin of error.',
          'Hypothesis tests: A p-value is the chance of data this extreme if the null hypothesis were true.',
        ],
      ],
    ],
  ),
  c(
    'linear-algebra',
    'en',
    'Mathematics',
    'intermediate',
    'Linear Algebra',
    'Vectors, matrices, linear systems, determinants, eigenvalues and their uses in graphics and data.',
    'mathematics,linear algebra,matrices',
    [
      [
        'Vectors and matrices',
        [
          'Vectors: Add vectors, scale them and measure angles with the dot product.',
          'Matrix multiplication: A matrix transforms vectors; multiplying matrices composes transformations.',
        ],
      ],
      [
        'Systems and eigenvalues',
        [
          'Gaussian elimination: Solve a system of linear equations by row reduction.',
          'Eigenvalues and eigenvectors: Directions a matrix only stretches; principal component analysis uses them.',
        ],
      ],
    ],
  ),
  c(
    'chemistry',
    'en',
    'Science',
    'beginner',
    'General Chemistry',
    'Atoms, the periodic table, chemical bonds, reactions and stoichiometry.',
    'chemistry,science,periodic table',
    [
      [
        'Atoms',
        [
          'Atomic structure: Protons, neutrons and electrons; the atomic number defines the element.',
          'The periodic table: Groups share valence electrons and so chemical behaviour.',
        ],
      ],
      [
        'Reactions',
        [
          'Chemical bonds: Ionic bonds transfer electrons and covalent bonds share them.',
          'Balancing equations: Atoms are conserved; moles let you weigh out reacting quantities.',
        ],
      ],
    ],
  ),
  c(
    'biology',
    'en',
    'Science',
    'beginner',
    'Human Biology: Cells to Systems',
    'How the body works, from cells and DNA to the heart, lungs and immune system.',
    'biology,human body,science',
    [
      [
        'Cells and genes',
        [
          'The cell: The membrane, nucleus and mitochondria, the powerhouse of the cell.',
          'DNA and proteins: Genes are transcribed into RNA and translated into proteins.',
        ],
      ],
      [
        'Body systems',
        [
          'Heart and lungs: The heart pumps blood through the lungs to pick up oxygen.',
          'The immune system: White blood cells and antibodies fight infection; vaccines train them.',
        ],
      ],
    ],
  ),
  c(
    'astronomy',
    'en',
    'Science',
    'all',
    'Astronomy: The Night Sky and Beyond',
    'Planets, stars, galaxies and the big bang, and how to observe the sky with a small telescope.',
    'astronomy,space,physics',
    [
      [
        'The solar system',
        [
          'Planets and moons: Rocky inner planets, gas giants and the moons of Jupiter.',
          'Observing: Find constellations, use a star chart and choose a first telescope.',
        ],
      ],
      [
        'Stars and the universe',
        [
          'The life of stars: Stars fuse hydrogen; massive ones end as supernovae and black holes.',
          'Galaxies and the big bang: The universe is expanding; the cosmic microwave background is its afterglow.',
        ],
      ],
    ],
  ),
  c(
    'physics',
    'en',
    'Science',
    'intermediate',
    'Classical Mechanics',
    'Newton’s laws, energy, momentum, circular motion and gravitation with worked problems.',
    'physics,mechanics,science',
    [
      [
        'Motion',
        [
          'Newton’s laws: Force equals mass times acceleration; every action has an equal and opposite reaction.',
          'Kinematics: Displacement, velocity and acceleration for projectiles.',
        ],
      ],
      [
        'Conservation',
        [
          'Energy: Kinetic and potential energy, work and power.',
          'Momentum and collisions: Momentum is conserved in collisions; elastic ones also keep kinetic energy.',
        ],
      ],
    ],
  ),
  c(
    'climate',
    'en',
    'Science',
    'all',
    'Climate Change: Science and Solutions',
    'The greenhouse effect, evidence of warming, impacts and the ways to cut emissions.',
    'climate,environment,sustainability',
    [
      [
        'The science',
        [
          'The greenhouse effect: Carbon dioxide and methane trap heat radiated by the Earth.',
          'Evidence and impacts: Rising temperatures, melting ice, sea level rise and extreme weather.',
        ],
      ],
      [
        'Solutions',
        [
          'Renewable energy: Solar panels and wind turbines now produce the cheapest electricity.',
          'Adaptation and policy: Carbon pricing, efficient buildings and protecting coasts.',
        ],
      ],
    ],
  ),
  // Arts, design, media
  c(
    'photography',
    'en',
    'Arts & Design',
    'beginner',
    'Digital Photography Basics',
    'Master your camera: exposure, aperture, shutter speed, ISO, composition and light.',
    'photography,camera,composition',
    [
      [
        'Exposure',
        [
          'Aperture, shutter speed and ISO: The exposure triangle; a wide aperture blurs the background.',
          'Metering and white balance: Read the histogram and correct colour casts.',
        ],
      ],
      [
        'Composition',
        [
          'Rule of thirds and leading lines: Place the subject off-centre and lead the eye through the frame.',
          'Natural light: Shoot in the golden hour for warm, soft light on landscapes and portraits.',
        ],
      ],
    ],
  ),
  c(
    'drawing',
    'en',
    'Arts & Design',
    'beginner',
    'Drawing for Beginners',
    'Learn to draw what you see: lines, shapes, perspective, shading and the human figure.',
    'drawing,art,sketching',
    [
      [
        'Seeing',
        [
          'Contour drawing: Draw the outline slowly while looking at the object, not the paper.',
          'Perspective: One-point and two-point perspective with a horizon line and vanishing points.',
        ],
      ],
      [
        'Form',
        [
          'Shading: Hatching and blending turn circles into spheres with light and shadow.',
          'Figure drawing: Proportions of the body measured in heads, and quick gesture sketches.',
        ],
      ],
    ],
  ),
  c(
    'music-theory',
    'en',
    'Music',
    'beginner',
    'Music Theory Fundamentals',
    'Read sheet music and understand scales, intervals, chords, keys and rhythm.',
    'music,theory,piano',
    [
      [
        'Reading music',
        [
          'The staff and clefs: Notes on the treble and bass clef and their names.',
          'Rhythm and time signatures: Whole, half and quarter notes in 4/4 and 3/4 time.',
        ],
      ],
      [
        'Harmony',
        ['Scales and keys: Major and minor scales and the circle of fifths.', 'Chords: Triads, seventh chords and the I–IV–V progression of countless songs.'],
      ],
    ],
  ),
  c(
    'guitar',
    'en',
    'Music',
    'beginner',
    'Acoustic Guitar for Beginners',
    'Tune up, play your first chords and strumming patterns, and learn complete songs.',
    'guitar,music,instrument',
    [
      [
        'First chords',
        ['Tuning and holding the guitar: Tune the six strings to E A D G B E.', 'Open chords: G, C, D and E minor, and changing between them smoothly.'],
      ],
      [
        'Playing songs',
        ['Strumming patterns: Down, down-up rhythms with a metronome.', 'Barre chords: Press one finger across all strings to move a chord shape up the neck.'],
      ],
    ],
  ),
  c(
    'ux',
    'en',
    'Arts & Design',
    'intermediate',
    'UX Design: Research to Prototype',
    'Design products people can use: user research, personas, wireframes, prototypes and usability testing.',
    'ux,design,user research',
    [
      [
        'Research',
        [
          'User interviews and personas: Learn users’ goals and frustrations and summarise them as personas.',
          'Journey maps: Map each step a user takes and where they struggle.',
        ],
      ],
      [
        'Design',
        [
          'Wireframes and prototypes: Sketch layouts, then click-through prototypes in Figma.',
          'Usability testing: Watch five users attempt tasks; most problems appear quickly.',
        ],
      ],
    ],
  ),
  c(
    'video-editing',
    'en',
    'Arts & Design',
    'intermediate',
    'Video Editing and Storytelling',
    'Cut, grade and mix video: editing techniques, colour correction and sound for online video.',
    'video,editing,film',
    [
      [
        'Editing',
        ['Cuts and pacing: Cut on action, use J and L cuts and keep the story moving.', 'B-roll: Cover interviews with footage that shows what is being said.'],
      ],
      [
        'Finishing',
        ['Colour correction and grading: Balance shots, then give the film a look.', 'Sound mixing: Clean dialogue, music ducking and loudness for YouTube.'],
      ],
    ],
  ),
  c(
    'creative-writing',
    'en',
    'Humanities',
    'all',
    'Creative Writing: Short Stories',
    'Write short fiction: characters, dialogue, point of view, plot and revising your drafts.',
    'writing,fiction,storytelling',
    [
      [
        'Craft',
        [
          'Characters: Give a character a want and an obstacle.',
          'Dialogue and point of view: Write dialogue that reveals character; choose first or third person.',
        ],
      ],
      [
        'Revision',
        [
          'Plot and structure: Inciting incident, rising action, climax and resolution.',
          'Editing your draft: Cut adverbs, read aloud and get feedback from a workshop.',
        ],
      ],
    ],
  ),
  // Health and wellbeing
  c(
    'yoga',
    'en',
    'Health & Fitness',
    'beginner',
    'Yoga for Beginners',
    'Gentle yoga poses, breathing and relaxation to build flexibility and calm at home.',
    'yoga,fitness,flexibility',
    [
      [
        'Poses',
        [
          'Sun salutation: A flowing sequence of downward dog, cobra and forward fold.',
          'Standing poses: Warrior one and two, triangle and tree pose for balance.',
        ],
      ],
      ['Breath and rest', ['Breathing: Slow belly breathing and alternate nostril breathing.', 'Relaxation: Savasana and a body scan at the end of practice.']],
    ],
  ),
  c(
    'running',
    'en',
    'Health & Fitness',
    'beginner',
    'Couch to 5K: Start Running',
    'A nine-week plan from walking to running five kilometres, with form, shoes and injury prevention.',
    'running,fitness,cardio',
    [
      [
        'The plan',
        [
          'Walk-run intervals: Alternate one minute of running with ninety seconds of walking three times a week.',
          'Building up: Add a little each week until you run thirty minutes without stopping.',
        ],
      ],
      [
        'Staying healthy',
        [
          'Running form and shoes: Short strides, upright posture and shoes fitted at a running shop.',
          'Avoiding injury: Warm up, stretch after and rest when your shins hurt.',
        ],
      ],
    ],
  ),
  c(
    'nutrition',
    'en',
    'Health & Fitness',
    'all',
    'Nutrition and Healthy Eating',
    'What to eat and why: macronutrients, vitamins, portion sizes and reading food labels.',
    'nutrition,health,diet',
    [
      [
        'Nutrients',
        [
          'Carbohydrates, protein and fat: What each macronutrient does and how much you need.',
          'Vitamins and minerals: Vitamin D, calcium and iron, and who needs supplements.',
        ],
      ],
      [
        'Habits',
        ['Reading labels: Compare sugar, salt and fibre per hundred grams.', 'Weight loss without fad diets: A small calorie deficit, protein and sleep.'],
      ],
    ],
  ),
  c(
    'mindfulness',
    'en',
    'Health & Fitness',
    'all',
    'Mindfulness and Stress Reduction',
    'Meditation practices to reduce stress and anxiety and sleep better.',
    'mindfulness,meditation,stress',
    [
      [
        'Practice',
        [
          'Breath meditation: Sit, follow the breath and return when the mind wanders.',
          'Body scan: Move attention from the toes to the head, noticing tension.',
        ],
      ],
      [
        'Daily life',
        [
          'Managing stress and anxiety: Notice worry as thoughts, not facts.',
          'Sleep hygiene: A regular bedtime, no screens and a wind-down routine help insomnia.',
        ],
      ],
    ],
  ),
  c(
    'first-aid',
    'en',
    'Health & Fitness',
    'all',
    'First Aid and CPR',
    'Save a life: assess an emergency, give CPR, use a defibrillator and treat bleeding and burns.',
    'first aid,cpr,emergency',
    [
      [
        'Emergencies',
        [
          'Check for danger and call for help: Make the scene safe and call the emergency number.',
          'CPR and defibrillators: Thirty chest compressions to two rescue breaths; an AED talks you through.',
        ],
      ],
      [
        'Injuries',
        ['Bleeding and burns: Press on a wound; cool a burn under running water for twenty minutes.', 'Choking: Back blows and abdominal thrusts for adults.'],
      ],
    ],
  ),
  // Humanities and home
  c(
    'history-ww2',
    'en',
    'Humanities',
    'all',
    'The Second World War',
    'Causes, campaigns and consequences of the Second World War, from 1939 to 1945.',
    'history,world war,europe',
    [
      [
        'The war',
        ['Causes: The Treaty of Versailles, the Depression and the rise of fascism.', 'Campaigns: The Blitz, Stalingrad, D-Day and the Pacific war.'],
      ],
      [
        'Aftermath',
        ['The Holocaust: The systematic murder of six million Jews.', 'Consequences: The United Nations, the Cold War and the division of Germany.'],
      ],
    ],
  ),
  c(
    'philosophy',
    'en',
    'Humanities',
    'beginner',
    'Introduction to Philosophy',
    'Big questions of knowledge, mind and ethics, from Plato to Kant and beyond.',
    'philosophy,ethics,logic',
    [
      [
        'Knowledge and mind',
        ['Plato and Descartes: What can we know for certain? I think, therefore I am.', 'The mind and the body: Dualism, materialism and consciousness.'],
      ],
      [
        'Ethics',
        [
          'Utilitarianism: The right act brings the greatest happiness to the greatest number.',
          'Kant’s duty ethics: Act only on rules you could will to be universal.',
        ],
      ],
    ],
  ),
  c(
    'gardening',
    'en',
    'Home & Garden',
    'beginner',
    'Vegetable Gardening',
    'Grow your own vegetables: soil, compost, sowing, watering and pests in a small garden.',
    'gardening,vegetables,compost',
    [
      ['Soil', ['Compost: Layer green and brown waste and turn it; in a year it feeds the soil.', 'Raised beds: Build beds for drainage and easy weeding.']],
      [
        'Growing',
        [
          'Sowing and planting out: Sow tomatoes indoors in spring and plant out after the last frost.',
          'Pests and watering: Water deeply at the roots and protect lettuce from slugs.',
        ],
      ],
    ],
  ),
  c(
    'diy',
    'en',
    'Home & Garden',
    'beginner',
    'Home Repairs and DIY',
    'Fix a dripping tap, patch plaster, hang shelves and use power tools safely.',
    'diy,home repair,tools',
    [
      [
        'Plumbing and walls',
        ['Dripping taps: Turn off the water and replace the washer or cartridge.', 'Patching holes: Fill with filler, sand smooth and paint.'],
      ],
      [
        'Tools',
        ['Drills and wall plugs: Choose the right plug for plasterboard or brick.', 'Tool safety: Goggles, clamps and unplugging before changing a blade.'],
      ],
    ],
  ),
  // French courses
  c(
    'fr-pain',
    'fr',
    'Cuisine',
    'beginner',
    'Faire son pain maison',
    'Pétrir, lever et cuire un pain de campagne au levain dans un four de particulier.',
    'boulangerie,pain,levain',
    [
      [
        'Le levain',
        [
          'Nourrir le levain : mélangez chaque jour la même masse de farine et d’eau ; en une semaine il double de volume.',
          'La fermentation : des bulles et une odeur acidulée montrent que le levain est prêt.',
        ],
      ],
      [
        'La cuisson',
        [
          'Pétrissage et rabats : reposez la pâte, ajoutez le sel puis faites des rabats pendant le pointage.',
          'Façonnage et cuisson : façonnez une boule, grignez-la et cuisez-la en cocotte à 250 °C.',
        ],
      ],
    ],
  ),
  c(
    'fr-python',
    'fr',
    'Programmation',
    'beginner',
    'Programmer en Python pour débutants',
    'Apprendre à coder avec Python : variables, boucles, fonctions et premiers programmes.',
    'python,programmation,informatique',
    [
      [
        'Les bases',
        [
          'Variables et types : on range des nombres, des chaînes et des listes dans des variables.',
          'Conditions et boucles : if, else et la boucle for pour répéter une tâche.',
        ],
      ],
      [
        'Fonctions',
        [
          'Écrire une fonction : def, des paramètres et une valeur de retour.',
          'Lire un fichier : ouvrir un fichier texte et compter les mots ligne par ligne.',
        ],
      ],
    ],
  ),
  c(
    'fr-finances',
    'fr',
    'Gestion',
    'beginner',
    'Gérer son budget personnel',
    'Maîtriser ses finances : budget mensuel, épargne de précaution, crédit et placements.',
    'finances personnelles,budget,épargne',
    [
      [
        'Le budget',
        [
          'Construire un budget : répartir ses revenus entre dépenses fixes, loisirs et épargne.',
          'L’épargne de précaution : mettre de côté trois mois de dépenses sur un livret.',
        ],
      ],
      [
        'Placements',
        [
          'Rembourser ses dettes : commencer par les crédits à la consommation les plus chers.',
          'Investir à long terme : l’assurance vie et les fonds indiciels diversifient le risque.',
        ],
      ],
    ],
  ),
  c(
    'fr-droit-fiscal',
    'fr',
    'Droit',
    'advanced',
    'Droit fiscal des entreprises',
    'L’impôt sur les sociétés, la TVA, les prix de transfert et les conventions fiscales internationales.',
    'fiscalité,droit,impôts',
    [
      [
        'L’impôt sur les sociétés',
        [
          'Le résultat fiscal : partir du résultat comptable et réintégrer les charges non déductibles.',
          'Les déficits : report en avant et intégration fiscale des filiales.',
        ],
      ],
      [
        'La TVA',
        [
          'Le mécanisme de la TVA : collectée sur les ventes, déductible sur les achats.',
          'Les prix de transfert : le principe de pleine concurrence entre sociétés liées.',
        ],
      ],
    ],
  ),
  c(
    'fr-photo',
    'fr',
    'Arts',
    'beginner',
    'La photographie numérique',
    'Maîtriser son appareil photo : exposition, ouverture, vitesse, ISO et composition.',
    'photographie,appareil photo,composition',
    [
      [
        'L’exposition',
        [
          'Ouverture, vitesse et ISO : le triangle d’exposition ; une grande ouverture floute l’arrière-plan.',
          'La balance des blancs : corriger les dominantes de couleur.',
        ],
      ],
      ['La composition', ['La règle des tiers : placer le sujet hors du centre.', 'La lumière naturelle : photographier les paysages à l’heure dorée.']],
    ],
  ),
  c(
    'fr-jardin',
    'fr',
    'Maison & Jardin',
    'beginner',
    'Le potager pour débutants',
    'Cultiver ses légumes : sol, compost, semis, arrosage et ravageurs dans un petit jardin.',
    'jardinage,potager,compost',
    [
      [
        'Le sol',
        ['Le compost : alterner déchets verts et bruns et retourner le tas.', 'Les buttes et carrés potagers : drainer le sol et désherber facilement.'],
      ],
      [
        'Les cultures',
        [
          'Semis et plantation : semer les tomates au chaud au printemps et planter après les gelées.',
          'Arrosage et limaces : arroser au pied et protéger les salades.',
        ],
      ],
    ],
  ),
  c(
    'fr-anglais',
    'fr',
    'Langues',
    'intermediate',
    'Anglais professionnel',
    'Rédiger des courriels, mener une réunion et présenter en anglais au travail.',
    'anglais,langues,communication',
    [
      [
        'L’écrit',
        [
          'Le courriel professionnel : formules de politesse et demande claire dès la première ligne.',
          'Le compte rendu : résumé, constats et recommandations.',
        ],
      ],
      [
        'L’oral',
        [
          'Les réunions : interrompre poliment, exprimer son accord ou son désaccord.',
          'La prononciation : l’accent tonique et les sons difficiles pour les francophones.',
        ],
      ],
    ],
  ),
  c(
    'fr-histoire',
    'fr',
    'Histoire',
    'all',
    'La Révolution française',
    'De la prise de la Bastille à l’Empire : causes, grandes étapes et héritage de la Révolution.',
    'histoire,révolution,france',
    [
      [
        '1789',
        [
          'Les causes : crise financière, inégalités de l’Ancien Régime et idées des Lumières.',
          'La prise de la Bastille et la Déclaration des droits de l’homme et du citoyen.',
        ],
      ],
      [
        'La République',
        ['La Terreur : Robespierre, le Comité de salut public et la guillotine.', 'L’héritage : le Code civil, le système métrique et les droits de l’homme.'],
      ],
    ],
  ),
  c(
    'fr-yoga',
    'fr',
    'Santé',
    'beginner',
    'Yoga et méditation',
    'Des postures douces, la respiration et la méditation pour gagner en souplesse et réduire le stress.',
    'yoga,méditation,bien-être',
    [
      [
        'Les postures',
        [
          'La salutation au soleil : un enchaînement de chien tête en bas, cobra et flexion avant.',
          'Les postures debout : le guerrier, le triangle et l’arbre pour l’équilibre.',
        ],
      ],
      [
        'La respiration',
        ['La respiration abdominale : inspirer lentement par le ventre.', 'La méditation : observer son souffle et revenir quand l’esprit s’égare.'],
      ],
    ],
  ),
  c(
    'fr-marketing',
    'fr',
    'Marketing',
    'beginner',
    'Marketing digital',
    'Trouver des clients en ligne : référencement naturel, réseaux sociaux, emailing et publicité.',
    'marketing,référencement,réseaux sociaux',
    [
      [
        'Les canaux',
        [
          'Le référencement naturel : choisir ses mots-clés et écrire des pages utiles pour Google.',
          'Les réseaux sociaux : publier régulièrement et animer sa communauté.',
        ],
      ],
      ['La mesure', ['L’emailing : segmenter sa liste et tester deux objets.', 'Les indicateurs : taux de conversion et coût d’acquisition client.']],
    ],
  ),
  c(
    'fr-secourisme',
    'fr',
    'Santé',
    'all',
    'Premiers secours',
    'Porter secours : alerter, masser, défibriller et arrêter une hémorragie.',
    'secourisme,premiers secours,urgence',
    [
      [
        'L’urgence',
        [
          'Protéger et alerter : sécuriser les lieux et appeler le 15 ou le 112.',
          'Le massage cardiaque : trente compressions thoraciques et le défibrillateur.',
        ],
      ],
      ['Les blessures', ['Les hémorragies : comprimer la plaie avec la main.', 'Les brûlures : refroidir sous l’eau pendant vingt minutes.']],
    ],
  ),
  c(
    'fr-musique',
    'fr',
    'Musique',
    'beginner',
    'Solfège et théorie musicale',
    'Lire une partition et comprendre gammes, intervalles, accords et rythme.',
    'musique,solfège,piano',
    [
      [
        'La lecture',
        ['La portée et les clés : lire les notes en clé de sol et en clé de fa.', 'Le rythme : rondes, blanches et noires en mesure à quatre temps.'],
      ],
      ['L’harmonie', ['Les gammes : majeures, mineures et le cycle des quintes.', 'Les accords : accords parfaits et enchaînements I–IV–V.']],
    ],
  ),
];
